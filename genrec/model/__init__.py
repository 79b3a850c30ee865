"""The model side: the base LLM, prompts, the item codes it generates, adapter folders and the text encoder."""
