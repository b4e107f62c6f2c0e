#!/usr/bin/env python3
"""Trees for the ext4 image tests, and comparing a tree read back from an image with its source.

  disk_trees.py make DIR         the tricky tree: deep paths, 255-byte and UTF-8 names, 10k small
                                 files, a 1 GiB sparse file, hard links, symlink loops, xattrs,
                                 devices, a fifo, a socket, owners above 65535
  disk_trees.py compare SRC OUT IMG
                                 every entry of SRC (sockets excepted) is in OUT (IMG dumped by
                                 `debugfs -R "rdump / OUT"`) with the same type, mode, owner, mtime
                                 (seconds), size, content and link target; what rdump cannot
                                 recreate (devices, fifos, setuid/setgid bits, which its chown
                                 clears) is read from IMG with `debugfs -R stat`
"""
import hashlib
import os
import re
import socket
import stat
import subprocess
import sys


def make(root):
    os.makedirs(root)
    fd = os.open(root, os.O_RDONLY)
    # Deep: 300 levels of short names, and 18 levels of 200-byte names (3.6 kB of path, just
    # under PATH_MAX, so that debugfs can still dump it here). Built relative to directory fds.
    for name, depth in (("d", 300), ("D" * 200, 18)):
        level = os.dup(fd)
        for _ in range(depth):
            os.mkdir(name, dir_fd=level)
            next_level = os.open(name, os.O_RDONLY, dir_fd=level)
            os.close(level)
            level = next_level
        leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o640, dir_fd=level)
        os.write(leaf, b"at the bottom\n")
        os.close(leaf)
        os.close(level)
    os.close(fd)

    with open(os.path.join(root, "n" * 255), "w") as f:
        f.write("a 255-byte name\n")
    for name in ["h\u00e9llo w\u00f6rld", "\u65e5\u672c\u8a9e", "emoji-\U0001f600", "tab\tand space"]:
        with open(os.path.join(root, name), "w") as f:
            f.write(name + "\n")

    many = os.path.join(root, "many")
    os.mkdir(many)
    for i in range(10000):
        with open(os.path.join(many, f"file-{i:05d}"), "w") as f:
            f.write(f"{i}\n" * (i % 7))

    sparse = os.path.join(root, "sparse")
    with open(sparse, "wb") as f:
        f.write(b"head")
        f.seek(512 * 1024 * 1024 + 1)  # a data block in the middle, not block-aligned
        f.write(b"middle")
        f.truncate(1 << 30)
        f.seek((1 << 30) - 5)
        f.write(b"tail\n")

    os.mkdir(os.path.join(root, "links"))
    target = os.path.join(root, "links", "original")
    with open(target, "wb") as f:
        f.write(os.urandom(100000))
    os.link(target, os.path.join(root, "links", "second"))
    os.link(target, os.path.join(root, "many", "third"))
    os.symlink("loop-b", os.path.join(root, "links", "loop-a"))
    os.symlink("loop-a", os.path.join(root, "links", "loop-b"))
    os.symlink("x" * 300, os.path.join(root, "links", "long-target"))  # a slow symlink (own block)
    os.symlink("../sparse", os.path.join(root, "links", "to-sparse"))
    os.symlink("/nonexistent/dangling", os.path.join(root, "links", "dangling"))

    special = os.path.join(root, "special")
    os.mkdir(special)
    os.mknod(os.path.join(special, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(os.path.join(special, "big-minor"), 0o600 | stat.S_IFBLK, os.makedev(259, 70000))
    os.mkfifo(os.path.join(special, "fifo"), 0o620)
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(special, "socket"))
    s.close()

    owned = os.path.join(root, "owned")
    os.mkdir(owned, 0o2750)
    with open(os.path.join(owned, "file"), "w") as f:
        f.write("owned\n")
    os.chown(os.path.join(owned, "file"), 100000, 70000)
    os.chown(owned, 65536, 65537)
    os.chmod(os.path.join(owned, "file"), 0o4755)
    capability = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_bind_service
    os.setxattr(os.path.join(owned, "file"), "security.capability", capability)
    os.setxattr(os.path.join(owned, "file"), "user.note", b"a user attribute")
    os.setxattr(owned, "user.on-a-directory", b"yes")
    os.utime(os.path.join(owned, "file"), (1000000000, 1234567890))


def entries(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in dirnames + sorted(filenames):
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = full
    return out


def describe(path):
    st = os.lstat(path)
    kind = stat.S_IFMT(st.st_mode)
    d = {"type": kind, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
    if stat.S_ISREG(kind):
        d["size"] = st.st_size
        d["mtime"] = int(st.st_mtime)
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        d["sha256"] = h.hexdigest()
    elif stat.S_ISLNK(kind):
        d["target"] = os.readlink(path)
    elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
        d["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
    return d


def from_image(image, rel):
    text = subprocess.run(["debugfs", "-R", f'stat "/{rel}"', image], capture_output=True, text=True).stdout
    kinds = {"regular": stat.S_IFREG, "directory": stat.S_IFDIR, "character special": stat.S_IFCHR,
             "block special": stat.S_IFBLK, "FIFO": stat.S_IFIFO, "symlink": stat.S_IFLNK}
    m = re.search(r"Type: (.+?)\s+Mode:\s+(\d+).*?User:\s+(\d+)\s+Group:\s+(\d+)", text, re.S)
    if not m:
        return {"missing": text[:200]}
    d = {"type": kinds.get(m.group(1), m.group(1)), "mode": int(m.group(2), 8), "uid": int(m.group(3)), "gid": int(m.group(4))}
    dev = re.search(r"Device major/minor number: (\d+):(\d+)", text)
    if dev:
        d["rdev"] = (int(dev.group(1)), int(dev.group(2)))
    return d


def compare(source, out, image):
    src, got = entries(source), entries(out)
    problems, checked = [], 0
    for rel, path in src.items():
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            if rel in got:
                problems.append(f"{rel}: a socket was copied")
            continue
        a = describe(path)
        special = a["type"] in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO)
        if special or a["mode"] & 0o6000:
            b = from_image(image, rel)
            if b != {k: a[k] for k in b if k in a} or "rdev" in a and b.get("rdev") != a["rdev"]:
                problems.append(f"{rel}: {a} != {b} (in the image)")
            checked += 1
            if special:
                continue
            a["mode"] &= ~0o6000
        if rel not in got:
            problems.append(f"{rel}: missing")
            continue
        b = describe(got[rel])
        if a != b:
            problems.append(f"{rel}: {a} != {b}")
        checked += 1
    for rel in got:
        if rel not in src and rel != "lost+found":
            problems.append(f"{rel}: not in the source")
    for p in problems[:20]:
        print("DIFF", p[:300], file=sys.stderr)
    if problems:
        sys.exit(f"{len(problems)} differences")
    print(f"{checked} entries identical")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
