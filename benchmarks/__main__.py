"""python -m benchmarks NAME [options]: run one benchmark (NAME: cw, grading, notebooks)."""
import sys

BENCHMARKS = {"cw": "benchmarks.cw", "grading": "benchmarks.grading",
              "notebooks": "benchmarks.notebooks"}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print(f"usage: python -m benchmarks {{{','.join(BENCHMARKS)}}} [options]  (-h after the name for its options)")
        raise SystemExit(2)
    from importlib import import_module
    import_module(BENCHMARKS[sys.argv[1]]).main(sys.argv[2:])


if __name__ == "__main__":
    main()
