"""`python -m importer.sandbox`: the sandbox with default settings, for quick manual use."""

from . import SandboxConfig, serve


def main() -> None:
    serve(SandboxConfig(), on_ready=lambda url: print(f"sandbox listening on {url}", flush=True))


if __name__ == "__main__":
    main()
