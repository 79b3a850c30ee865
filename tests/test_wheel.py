"""An installed genrec is the README's genrec: build the wheel, install it into a fresh environment, and run
`genrec demo`, `genrec ui` and `genrec serve` from outside the checkout."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv holding the built wheel; its other packages come from this machine (--system-site-packages:
    no index here), while genrec itself is the wheel's copy, never the checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy: a stale build/ folder in the checkout must not leak old modules into the wheel.
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__",
                                                              ".*.checkpoints", ".gpu", ".whl"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp / "dist")], check=True, capture_output=True, cwd=tmp)
    wheel = next((tmp / "dist").glob("genrec-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True,
                   capture_output=True)
    env = {**os.environ, "PYTHONNOUSERSITE": "1", "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    work = tmp / "elsewhere"  # not the checkout: nothing may come from it
    work.mkdir()
    return wheel, venv, env, work


def test_the_wheel_ships_the_demo_adapter_shop_logs_prompts_and_ui(installed):
    wheel, *_ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("genrec/_adapters/demo/adapter_model.safetensors", "genrec/_adapters/demo/shop.json",
                 "genrec/_prompts/recommend.j2", "genrec/demo/shoppers/interactions.jsonl",
                 "genrec/demo/shoppers/splits.json", "genrec/apps/ui.py", "genrec/ranking/recommender.py"):
        assert path in names, path


def test_installed_genrec_demo_uses_the_bundled_adapter_and_shop_logs(installed):
    _, venv, env, work = installed
    probe = ("import genrec, json; from genrec import api; a = api.demo_adapter(); "
             "print(json.dumps([genrec.__file__, str(a), len(api.demo_logs())]))")
    out = subprocess.run([venv / "bin" / "python", "-c", probe], cwd=work, env=env, capture_output=True, text=True,
                         check=True)
    where, adapter, users = json.loads(out.stdout)
    assert where.startswith(str(venv)) and adapter.startswith(str(venv)) and users > 1000
    demo = subprocess.run([venv / "bin" / "genrec", "demo", "--json", "--no-explain", "-k", "3"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=900)
    assert demo.returncode == 0, demo.stderr[-3000:]
    rows = [json.loads(line) for line in demo.stdout.splitlines() if line.startswith("{")]
    assert len(rows) >= 3 and all(r["item_id"].startswith("P") for r in rows)


def test_installed_genrec_ui_serves_its_page(installed):
    _, venv, env, work = installed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([venv / "bin" / "genrec", "ui", "--port", str(port)], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.time() + 600, None
        while time.time() < deadline and page is None:
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
            except OSError:
                time.sleep(1)
        assert page is not None and "genrec" in page
    finally:
        proc.kill()
        proc.wait()


def test_installed_genrec_serve_answers_on_the_demo_shop(installed, tmp_path):
    _, venv, env, work = installed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([venv / "bin" / "genrec", "serve", "--port", str(port), "--journal",
                             str(tmp_path / "journal.jsonl")], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, ready = time.time() + 600, False
        while time.time() < deadline and not ready:
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            try:
                ready = urllib.request.urlopen(f"{base}/ready", timeout=5).status == 200
            except OSError:
                time.sleep(1)
        assert ready
        req = urllib.request.Request(f"{base}/recommend", method="POST", headers={"content-type": "application/json"},
                                     data=json.dumps({"profile": {"interests": ["running"]}, "k": 3}).encode())
        items = json.loads(urllib.request.urlopen(req, timeout=120).read())["items"]
        assert len(items) == 3 and all(r["item_id"].startswith("P") and r["explanation"] for r in items)
    finally:
        proc.kill()
        proc.wait()

