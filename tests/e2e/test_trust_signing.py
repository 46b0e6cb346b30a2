"""Issue 12, signed payloads: xsplice-sign, xsplice-pack --sign, and the
agent's policy (XSPLICE_KEYS, XSPLICE_REQUIRE_SIGNED) on live processes."""
import json
import os
import shutil
import stat

import pytest

from conftest import BIN, run
from features.fhelp import fb  # noqa: F401

SIGN = BIN / "xsplice-sign"


@pytest.fixture
def keys(tmp_path):
    """A trusted key directory with one key, and a second key nobody trusts."""
    d = tmp_path / "keys"
    d.mkdir(mode=0o755)
    run([SIGN, "--keygen", tmp_path / "good"])
    run([SIGN, "--keygen", tmp_path / "other"])
    shutil.copy(tmp_path / "good.pub", d / "good.pub")
    os.chmod(d / "good.pub", 0o644)
    return {"dir": d, "good": tmp_path / "good.key", "other": tmp_path / "other.key",
            "good_id": (tmp_path / "good.pub").read_text().split()[1][:16],
            "other_id": (tmp_path / "other.pub").read_text().split()[1][:16]}


def signed_copy(src, dst, key):
    shutil.copy(src, dst)
    p = run([SIGN, "-k", key, dst])
    assert "signed" in p.stdout
    return dst


def test_keygen_writes_a_private_secret_key(tmp_path):
    run([SIGN, "--keygen", tmp_path / "k"])
    assert stat.S_IMODE(os.stat(tmp_path / "k.key").st_mode) == 0o600
    assert (tmp_path / "k.pub").read_text().startswith("xsplice-ed25519 ")
    # never overwrites a key
    p = run([SIGN, "--keygen", tmp_path / "k"], check=False)
    assert p.returncode == 1 and "k.key" in p.stderr


def test_enforce_mode_refuses_unsigned_unknown_and_tampered(fb, start, keys, tmp_path):
    plain = fb.payload("hello")
    good = signed_copy(plain, tmp_path / "good.xsplice", keys["good"])
    other = signed_copy(plain, tmp_path / "other.xsplice", keys["other"])
    tampered = tmp_path / "tampered.xsplice"
    data = bytearray(good.read_bytes())
    data[200] ^= 0x01                     # a byte of the ELF, after signing
    tampered.write_bytes(bytes(data))

    t = start([fb.target], env={"XSPLICE_KEYS": str(keys["dir"]),
                                "XSPLICE_REQUIRE_SIGNED": "1"})
    p = t.cli("upload", "p", plain, check=1)
    assert "not signed" in p.stderr, p.stderr
    p = t.cli("upload", "p", other, check=1)
    assert f"signed by key {keys['other_id']}, which is not a trusted key" in p.stderr, p.stderr
    p = t.cli("upload", "p", tampered, check=1)
    assert "changed after it was signed" in p.stderr, p.stderr
    assert json.loads(t.cli("list", "--json", check=0).stdout)["payloads"] == []
    assert t.query("greet") != "Hello World"

    t.cli("upload", "p", good, check=0)
    t.cli("apply", "p", check=0)
    assert t.query("greet") == "Hello World"
    listed = json.loads(t.cli("list", "--json", check=0).stdout)["payloads"]
    assert [(x["signer"], x["signer_trusted"]) for x in listed] == [(keys["good_id"], True)]
    assert keys["good_id"] in t.cli("list", check=0).stdout


def test_without_enforcement_signatures_are_still_checked(fb, start, keys, tmp_path):
    plain = fb.payload("hello")
    other = signed_copy(plain, tmp_path / "other.xsplice", keys["other"])
    tampered = tmp_path / "tampered.xsplice"
    data = bytearray(other.read_bytes())
    data[-120] ^= 0x80                     # last byte of the ELF
    tampered.write_bytes(bytes(data))
    t = start([fb.target], env={"XSPLICE_KEYS": str(keys["dir"])})
    p = t.cli("upload", "t", tampered, check=1)
    assert "changed after it was signed" in p.stderr, p.stderr
    t.cli("upload", "plain", plain, check=0)
    t.cli("upload", "other", other, check=1)  # same build-id as plain: refused as a duplicate
    t.cli("unload", "plain", check=0)
    t.cli("upload", "other", other, check=0)
    listed = json.loads(t.cli("list", "--json", check=0).stdout)["payloads"]
    assert [(x["signer"], x["signer_trusted"]) for x in listed] == [(keys["other_id"], False)]
    assert "key not trusted" in t.cli("list", check=0).stdout


def test_a_key_directory_others_can_write_is_not_trusted(fb, start, keys, tmp_path):
    good = signed_copy(fb.payload("hello"), tmp_path / "good.xsplice", keys["good"])
    os.chmod(keys["dir"], 0o777)
    t = start([fb.target], env={"XSPLICE_KEYS": str(keys["dir"]),
                                "XSPLICE_REQUIRE_SIGNED": "1"})
    p = t.cli("upload", "p", good, check=1)
    assert "is not safe" in p.stderr and str(keys["dir"]) in p.stderr, p.stderr
    os.chmod(keys["dir"], 0o755)
    os.chmod(keys["dir"] / "good.pub", 0o666)
    p = t.cli("upload", "p", good, check=1)
    assert "not a trusted key" in p.stderr, p.stderr
    os.chmod(keys["dir"] / "good.pub", 0o644)
    t.cli("upload", "p", good, check=0)


def test_pack_signs(fb, keys, tmp_path, start):
    from conftest import PAYLOAD_CFLAGS, cc, pack
    from features.fhelp import HERE
    obj = cc(tmp_path / "hello.o", HERE / "hello.c", flags=PAYLOAD_CFLAGS, link=False)
    out = pack(tmp_path / "hello.xsplice", fb.target, obj, extra=["--sign", keys["good"]])
    t = start([fb.target], env={"XSPLICE_KEYS": str(keys["dir"]),
                                "XSPLICE_REQUIRE_SIGNED": "1"})
    t.cli("upload", "p", out, check=0)
    # a key readable by others is refused by the tool
    os.chmod(keys["good"], 0o644)
    p = run([BIN / "xsplice-pack", "-t", fb.target, "-o", tmp_path / "x.xsplice",
             "--sign", keys["good"], obj], check=False)
    assert p.returncode == 1 and "readable or writable by others" in p.stderr
    assert not (tmp_path / "x.xsplice").exists()


def test_signing_again_replaces_the_signature(fb, start, keys, tmp_path):
    p = signed_copy(fb.payload("hello"), tmp_path / "p.xsplice", keys["other"])
    size = p.stat().st_size
    run([SIGN, "-k", keys["good"], p])
    assert p.stat().st_size == size           # one trailer, not two
    t = start([fb.target], env={"XSPLICE_KEYS": str(keys["dir"]),
                                "XSPLICE_REQUIRE_SIGNED": "1"})
    t.cli("upload", "p", p, check=0)
    assert json.loads(t.cli("list", "--json", check=0).stdout)["payloads"][0]["signer"] == \
        keys["good_id"]
