"""Training the CLASS-IT models: `classit-train tokenizer | pretrain | instructions | instruct`.

One plain module per step (see docs/training.md); `loop` is the training loop they share.
"""
