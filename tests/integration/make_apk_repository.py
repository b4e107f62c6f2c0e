#!/usr/bin/env python3
"""Builds a signed Alpine repository (APKINDEX.tar.gz + .apk files) in the apk v2 layout, for
testing runcvm-build against a local mirror: each .apk is three gzip members (signature tar
without end blocks, control tar without end blocks, data tar); the index lists the SHA1 of each
control member as C:Q1<base64>, and .PKGINFO's datahash is the SHA256 of the data member.

usage: make_apk_repository.py REPO_DIR PRIVATE_KEY KEY_NAME NAME VERSION TREE [NAME VERSION TREE]...
"""
import base64
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile


def tar_bytes(entries, end_blocks=True):
    """entries: list of (name, bytes). Files only, fixed owner and mtime."""
    buffer = io.BytesIO()
    archive = tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT)
    for name, data in entries:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = 1700000000
        archive.addfile(info, io.BytesIO(data))
    end = archive.offset
    archive.close()
    raw = buffer.getvalue()
    return raw if end_blocks else raw[:end]


def tree_entries(tree):
    entries = []
    for directory, _, files in sorted(os.walk(tree)):
        for name in sorted(files):
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                entries.append((os.path.relpath(path, tree), f.read()))
    return entries


def gz(data):
    return gzip.compress(data, mtime=0)


def sign(private_key, digest, data):
    return subprocess.run(["openssl", "dgst", "-" + digest, "-sign", private_key], input=data,
                          capture_output=True, check=True).stdout


def signature_member(private_key, key_name, signed, algorithm):
    prefix, digest = (".SIGN.RSA256.", "sha256") if algorithm == "RSA256" else (".SIGN.RSA.", "sha1")
    return gz(tar_bytes([(prefix + key_name, sign(private_key, digest, signed))], end_blocks=False))


def main():
    repo, private_key, key_name = sys.argv[1:4]
    specs = sys.argv[4:]
    os.makedirs(repo, exist_ok=True)
    index = []
    for i in range(0, len(specs), 3):
        name, version, tree = specs[i:i + 3]
        data = gz(tar_bytes(tree_entries(tree)))
        pkginfo = (f"pkgname = {name}\npkgver = {version}\narch = x86_64\nsize = {len(data)}\n"
                   f"datahash = {hashlib.sha256(data).hexdigest()}\n").encode()
        control = gz(tar_bytes([(".PKGINFO", pkginfo)], end_blocks=False))
        apk = signature_member(private_key, key_name, control, "RSA") + control + data
        with open(os.path.join(repo, f"{name}-{version}.apk"), "wb") as f:
            f.write(apk)
        q1 = base64.b64encode(hashlib.sha1(control).digest()).decode()
        index.append(f"C:Q1{q1}\nP:{name}\nV:{version}\nA:x86_64\nS:{len(apk)}\nI:{len(data)}\n"
                     f"T:test package\nD:initramfs-generator so:libc.musl-x86_64.so.1\n")
    body = gz(tar_bytes([("DESCRIPTION", b"runcvm test repository"),
                         ("APKINDEX", ("\n".join(index) + "\n").encode())]))
    with open(os.path.join(repo, "APKINDEX.tar.gz"), "wb") as f:
        f.write(signature_member(private_key, key_name, body, "RSA256") + body)


if __name__ == "__main__":
    main()
