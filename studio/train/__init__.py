"""Training engine: TRL SFT and DPO with LoRA, metrics, the numerical guard and the worker."""
