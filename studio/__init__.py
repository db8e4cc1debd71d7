"""Text-to-SQL Studio: post-train code models for text-to-SQL (SFT, DPO pairs, DPO, EX)."""

__version__ = "0.1.0"
