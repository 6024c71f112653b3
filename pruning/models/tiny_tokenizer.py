"""The tiny models' tokenizers: a deterministic byte-level BPE (no unknown inputs) trained on a fixed corpus
(tiny.corpus) with the family's special tokens, wrapped as a transformers fast tokenizer.

    bpe_tokenizer(corpus(), ["<unk>", "<s>", "</s>", "<pad>", "<image>", "<video>"], bos="<s>", eos="</s>",
                  unk="<unk>", pad="<pad>", model_max_length=4096)            # LLaMA style: BOS prepended
    bpe_tokenizer(lines, QWEN_SPECIAL, eos="<|im_end|>", pad="<|endoftext|>", model_max_length=32768)  # no BOS
"""
from __future__ import annotations


def bpe_tokenizer(lines: list[str], special: list[str], *, eos: str, pad: str, bos: str | None = None,
                  unk: str | None = None, model_max_length: int, vocab_size: int = 2048):
    """A BPE of `vocab_size` over `lines`; `special` tokens first (ids 0..), in order. With `bos`, every encoding
    starts with it (TemplateProcessing "<bos> $A"); without, nothing is added. Left padding."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    names = {}
    if bos is not None:
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                           special_tokens=[(bos, tok.token_to_id(bos))])
        names["bos_token"] = bos
    names["eos_token"] = eos
    if unk is not None:
        names["unk_token"] = unk
    names["pad_token"] = pad
    return PreTrainedTokenizerFast(tokenizer_object=tok, **names, padding_side="left",
                                   model_max_length=model_max_length)
