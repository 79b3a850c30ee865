"""What people run: the command line, the chat's reading of messages, the Gradio UI."""
