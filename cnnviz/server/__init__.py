"""What the server shares between sessions: work queues, URL checks and the process's memory setting."""
