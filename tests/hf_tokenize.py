"""Hugging Face tokenizer oracle for tests/parity_hf_tokenizer.c.

  hf_tokenize.py TOKENIZER_DIR IN.jsonl OUT.safetensors JSON_DIR

Loads TOKENIZER_DIR (vocab.json + merges.txt + tokenizer_config.json) with
transformers.AutoTokenizer, which converts it to a `tokenizers` library Tokenizer (the
fast tokenizer: NFC normalizer, the Qwen2 Split regex, byte-level BPE, added tokens),
saves that Tokenizer as JSON_DIR/tokenizer.json, and encodes every line of IN.jsonl (one
JSON string per line) with tokenizers' Tokenizer.encode_batch(add_special_tokens=False):
added tokens such as <|im_start|> in the text are matched whole, nothing is prepended.
OUT: "ids" I32 [total] (all strings' ids concatenated), "offsets" I64 [n + 1].
Metadata: "tokenizer" (the class), "tokenizers" (the library version), "normalizer" (the
Tokenizer's normalizer as JSON), "nfc" (JSON object: index -> the string's NFC form, for the
strings that NFC changes).
"""

import json
import os
import sys
import unicodedata

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import tokenizers  # noqa: E402
import transformers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensorfile  # noqa: E402


def main(tok_dir, in_path, out_path, json_dir):
    hf = transformers.AutoTokenizer.from_pretrained(tok_dir)
    backend = hf.backend_tokenizer  # a tokenizers.Tokenizer
    assert isinstance(backend, tokenizers.Tokenizer)
    os.makedirs(json_dir, exist_ok=True)
    backend.save(os.path.join(json_dir, "tokenizer.json"))
    with open(in_path, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    enc = backend.encode_batch(texts, add_special_tokens=False)
    lens = [len(e.ids) for e in enc]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(lens)
    ids = np.fromiter((i for e in enc for i in e.ids), dtype=np.int32, count=int(offsets[-1]))
    nfc = {str(i): unicodedata.normalize("NFC", t) for i, t in enumerate(texts)
           if unicodedata.normalize("NFC", t) != t}
    tensorfile.save(out_path, {"ids": ids, "offsets": offsets},
                    {"tokenizer": type(hf).__name__, "tokenizers": tokenizers.__version__,
                     "normalizer": json.dumps(json.loads(backend.to_str())["normalizer"]),
                     "nfc": json.dumps(nfc, ensure_ascii=False)})


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
