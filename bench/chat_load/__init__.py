"""The chat load benchmark, split by what each part does; run it as `python -m bench.chat_load`."""
