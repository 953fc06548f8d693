"""Training TinyVGG: the embedded model's trainer and the playground's live training."""
