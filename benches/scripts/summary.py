#!/usr/bin/env python3
"""Prints the medians criterion saved (target/criterion/**/new/estimates.json)
and, for the parse groups, the ratios the goals are stated in.

    python3 benches/scripts/summary.py [CRITERION_DIR]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion.
"""
import json
import os
import pathlib
import sys


def load(root):
    rows = {}
    for est in sorted(root.glob("**/new/estimates.json")):
        bench = est.parent.parent.relative_to(root).as_posix()
        bj = est.parent / "benchmark.json"
        meta = json.loads(bj.read_text()) if bj.exists() else {}
        median = json.loads(est.read_text())["median"]
        rows[meta.get("full_id", bench)] = (median, meta.get("throughput"))
    return rows


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_thrpt(ns, thrpt):
    if not thrpt:
        return ""
    (kind, n), = thrpt.items()
    per_s = n / (ns / 1e9)
    if kind == "Bytes":
        return f"{per_s / 2**20:.0f} MiB/s"
    return f"{per_s / 1e6:.3g} M/s" if per_s >= 1e6 else f"{per_s / 1e3:.3g} K/s"


def main():
    root = pathlib.Path(
        sys.argv[1]
        if len(sys.argv) > 1
        else os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    )
    rows = load(root)
    print("| benchmark | median | throughput |")
    print("|---|---|---|")
    for name, ((est), thrpt) in rows.items():
        ns = est["point_estimate"]
        print(f"| `{name}` | {fmt_time(ns)} | {fmt_thrpt(ns, thrpt)} |")
    print()
    print("| body | bytes | ours / bare loop | ours / loop + attributes | ours / DOM | DOM / bare loop |")
    print("|---|---|---|---|---|---|")
    for size in ("small", "typical", "large"):
        def med(name):
            return rows[f"parse/{size}/{name}"][0]["point_estimate"]

        try:
            ours, bare, dom = med("bosh_core"), med("bare_quick_xml"), med("roxmltree_dom")
        except KeyError:
            continue
        try:
            attrs = f"{med('bare_quick_xml_attrs') / ours:.2f}x"
        except KeyError:
            attrs = "-"
        (_, n), = rows[f"parse/{size}/bosh_core"][1].items()
        print(
            f"| {size} | {n} | {bare / ours:.2f}x | {attrs} | {dom / ours:.2f}x | {bare / dom:.2f}x |"
        )

main()
