import pytest

from genrec import BaseModelConfig, ModelError
from genrec.model import base_model as bm


def test_config_is_checked_at_construction():
    for bad in ({"quantization": "int3"}, {"dtype": "float8"}, {"device": "tpu"}):
        with pytest.raises(ModelError):
            BaseModelConfig(**bad)
    assert BaseModelConfig().resolved_device() in ("cpu", "cuda")


def test_bad_paths_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        bm.resolve_model_dir(str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="no config.json"):
        bm.resolve_model_dir(str(tmp_path))
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="neither a folder nor a .gguf"):
        bm.resolve_model_dir(str(tmp_path / "weights.bin"))


def test_a_local_hf_folder_is_used_as_is(tmp_path, tiny_model, tokenizer):
    tiny_model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert bm.resolve_model_dir(str(tmp_path)) == tmp_path
    model, tok = bm.load_base_model(BaseModelConfig(path=str(tmp_path), device="cpu"))
    assert model.config.vocab_size == tiny_model.config.vocab_size and len(tok) == len(tokenizer)


def test_killed_conversion_leaves_no_cache_and_a_finished_one_is_reused(tmp_path, monkeypatch):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF fake")
    calls = []

    def crash(src, out, tokenizer_from=None):
        (out / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-write

    monkeypatch.setattr(bm, "_write_checkpoint", crash)
    with pytest.raises(KeyboardInterrupt):
        bm.resolve_model_dir(str(gguf), cache_dir=tmp_path / "c")
    assert list((tmp_path / "c" / "base").iterdir()) == []  # neither the target nor a temp folder

    def finish(src, out, tokenizer_from=None):
        calls.append(src)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(bm, "_write_checkpoint", finish)
    first = bm.resolve_model_dir(str(gguf), cache_dir=tmp_path / "c")
    again = bm.resolve_model_dir(str(gguf), cache_dir=tmp_path / "c")
    assert first == again and (first / "config.json").exists() and len(calls) == 1
    assert first.name.startswith("m-")  # keyed by the file's hash
    gguf.write_bytes(b"GGUF other")
    assert bm.resolve_model_dir(str(gguf), cache_dir=tmp_path / "c") != first
