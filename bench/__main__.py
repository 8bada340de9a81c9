"""`python -m bench` (`make bench`): prepare the database, run the scenarios, report.

Exits non-zero only when something broke (a server, a check, the load generator); a missed
target is a result, printed as "TARGET MISSED", not a failure of the bench.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from collections.abc import Callable
from types import FrameType

from bench import cache, checkout, database, fanout, imports, listing, scale, soak, webhooks
from bench.database import PreparedDatabase
from bench.load import LoadSpec, generator_name
from bench.report import Report, machine_info, utc_stamp, write_json

# name -> run(database, load spec, rounds), in running order; later scenarios (cache hit) go here.
SCENARIOS: dict[str, Callable[[PreparedDatabase, LoadSpec, int], Report]] = {
    listing.NAME: listing.run,
    checkout.NAME: checkout.run,
    cache.NAME: cache.run,
    fanout.NAME: fanout.run,
    webhooks.NAME: webhooks.run,
    soak.NAME: soak.run,
    scale.NAME: scale.run,
    imports.NAME: imports.run,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections (16)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each run (2)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating a, b rounds (2)")
    parser.add_argument("--minutes", type=int, default=10, help="length of the soak scenario (10)")
    parser.add_argument(
        "--orders", type=int, default=1000, help="orders placed per run of the webhooks scenario (1000)"
    )
    return parser


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into SystemExit so `finally` blocks stop the servers this run started.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    names = args.scenarios or list(SCENARIOS)
    spec = LoadSpec(
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        minutes=args.minutes,
        orders=args.orders,
    )
    generator = generator_name()
    stamp = utc_stamp()
    started = time.perf_counter()
    print(
        f"bench {stamp}: scenarios {', '.join(names)}; load generator {generator}; "
        f"{spec.connections} connections, {spec.warmup:g}s warm-up + {spec.duration:g}s x {args.rounds} rounds",
        flush=True,
    )
    try:
        print(f"preparing {database.DB_NAME}: drop, create, migrate, seed {database.PRODUCTS} products…", flush=True)
        prepared = database.prepare()
        verdict = "ok" if prepared.seed_seconds < database.SEED_TARGET_SECONDS else "SEED TARGET MISSED"
        print(
            f"migrate took {prepared.migrate_seconds:.1f}s; seed took {prepared.seed_seconds:.1f}s "
            f"(target < {database.SEED_TARGET_SECONDS:.0f}s: {verdict})",
            flush=True,
        )
        for name in names:
            print(f"running scenario {name}…", flush=True)
            report = SCENARIOS[name](prepared, spec, args.rounds)
            print()
            print(report.render())
            common = {"machine": machine_info(generator), "seed_seconds": round(prepared.seed_seconds, 3)}
            path = write_json(report, common, stamp)
            print(f"wrote {path}")
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 130
    except Exception:  # anything broken is reported whole and makes the run fail
        traceback.print_exc()
        print("BENCH FAILED", file=sys.stderr)
        return 1
    print(f"bench done in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
