"""Inside a trained CNN: its architecture, its layers' outputs, what a channel responds to, and pictures of them."""
