"""Export: a base model plus a LoRA adapter stack, out of the studio as files other tools load.

merge.py         the stack merged into a full Hugging Face folder (safetensors, tokenizer,
                 chat template, generation config) in the chosen dtype
gguf_file.py     that folder written as a GGUF file (f16/bf16) for llama.cpp and Ollama
checks.py        the merged folder's logits against the unmerged stack; the GGUF read back
system_prompt.py the system prompt the adapters were trained with
modelfile.py     an Ollama Modelfile: the GGUF, a ChatML template, that system prompt
pipeline.py      all of the above in order, as `python -m studio model export` and the
                 Export tab run it
"""
