#!/usr/bin/env python3
"""Compares our modules.dep with depmod's: the same modules with the same dependency sets, and
our order valid for modprobe (which loads a line's dependencies from last to first, so each
dependency's own dependencies must come after it on the line).

usage: compare_modules_dep.py OURS THEIRS
"""
import sys


def read(path):
    lines = {}
    for line in open(path):
        module, _, deps = line.rstrip("\n").partition(":")
        lines[module] = deps.split()
    return lines


ours, theirs = read(sys.argv[1]), read(sys.argv[2])
problems = []
if ours.keys() != theirs.keys():
    problems.append(f"module sets differ: only ours {sorted(ours.keys() - theirs.keys())[:5]}, "
                    f"only depmod's {sorted(theirs.keys() - ours.keys())[:5]}")
for module in sorted(ours.keys() & theirs.keys()):
    if set(ours[module]) != set(theirs[module]):
        problems.append(f"{module}: ours {ours[module]} depmod {theirs[module]}")
    for i, dep in enumerate(ours[module]):
        later = set(ours[module][i + 1:])
        missing = set(ours.get(dep, [])) - later
        if missing:
            problems.append(f"{module}: {dep} is loaded before its dependencies {sorted(missing)}")
for problem in problems[:10]:
    print(problem, file=sys.stderr)
if problems:
    sys.exit(f"{len(problems)} differences in {len(ours)} modules")
print(f"{len(ours)} modules: same dependencies as depmod, valid load order")
