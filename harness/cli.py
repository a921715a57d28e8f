"""`spec-harness`: run, check and list steps. Exit codes: 0 passed, 1 a step failed or
the run timed out (--timeout), 2 a spec/step-definition/usage error, 3 target unreachable
or refusing, 130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM (a CI job
cancelled). Interrupted runs still write their reports for what ran; a run that ends
before running anything (2, 3, or 130/143 while starting) removes the previous run's
reports instead of leaving them looking current."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from harness import __version__
from harness.api_version import parse_api_version
from harness.entry import report_worker, started
from harness.events import EventBus
from harness.hooks import HOOKS
from harness.loader import add_needed, check_examples, check_steps, discover, parse_all
from harness.plan import Plan, Selection, make_plan
from harness.run import blocking
from harness.run.loading import BUILTIN_LIBRARY, StepLoadError
from harness.run.registry import StepRegistry
from harness.run.retry import RetryPolicy
from harness.run.runner import Runner, RunSettings
from harness.spec.errors import SpecErrors
from harness.tags import TagExpressionError, parse_tag_expression
from harness.targets.base import Target, TargetError
from harness.targets.remote import TargetConfigError

EXIT_OK, EXIT_USAGE, EXIT_TARGET, EXIT_INTERRUPTED = 0, 2, 3, 130  # 1: the runner's (RunOutcome)
EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a process it ended
_STOP_SIGNALS = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: EXIT_TERMINATED}
# Always loaded; `--steps` adds to these.
DEFAULT_STEP_MODULES = (BUILTIN_LIBRARY,)
REMOTE_ONLY = ("api_url", "mock_url", "ws_url", "admin_token", "target_config")


class UsageError(Exception):
    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []  # `path:line:col: ...` texts, for annotations


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spec-harness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"spec-harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def selection_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "paths",
            nargs="*",
            default=["specs"],
            help="spec files or folders (default: specs/); FILE:LINE picks a "
            "scenario and the story before it",
        )
        p.add_argument(
            "-k",
            dest="names",
            action="append",
            default=[],
            metavar="TEXT",
            help="only features whose title, path or a scenario title contains TEXT",
        )
        p.add_argument("--tags", help="tag expression, e.g. 'fota and not slow'")
        p.add_argument(
            "--steps",
            dest="step_modules",
            action="append",
            default=[],
            metavar="MODULE",
            help="step definitions to load besides the built-in "
            "library: a .py file, a folder of them or a dotted module (repeatable)",
        )

    run = sub.add_parser("run", help="run specs against a target")
    selection_args(run)
    run.add_argument("--jobs", type=int, default=8, help="feature runs at once (default 8)")
    run.add_argument(
        "--reports", default="reports", metavar="DIR", help="where reports go (default reports/)"
    )
    run.add_argument("--no-reports", action="store_true", help="write no report files")
    run.add_argument("--target", default="embedded", choices=["embedded", "remote"])
    run.add_argument("--api-url", default="", help="remote: the backend's REST base URL")
    run.add_argument("--mock-url", default="", help="remote: the mock nRF Cloud's URL")
    run.add_argument(
        "--ws-url", default=None, help="remote: websocket URL (default: API URL with ws:// and /ws)"
    )
    run.add_argument("--admin-token", default="", help="remote: the backend's admin token")
    run.add_argument(
        "--api-version",
        default="",
        metavar="DATE",
        type=_api_version,
        help="the API generation to test, e.g. 2024-04-17: APIURL and the "
        "websocket URL get /DATE (default: the root API; a spec's front matter "
        "`apiVersion` overrides it)",
    )
    run.add_argument(
        "--target-config",
        metavar="FILE",
        help="remote: YAML/JSON with api_url, mock_url, admin_token, ws_url, "
        "api_version, vars (README.md: running against servers you started)",
    )
    run.add_argument(
        "--var",
        dest="variables",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a context value for every feature run (repeatable), e.g. --var VERSION=1.2.3",
    )
    run.add_argument(
        "--step-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds one step attempt may take (default 60)",
    )
    run.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="seconds the whole run may take"
    )
    run.add_argument("--retry-tries", type=int, default=None, help="Soon: attempts at most")
    run.add_argument(
        "--retry-timeout",
        type=float,
        default=30_000,
        metavar="MS",
        help="Soon: time budget in ms (default 30000)",
    )
    run.add_argument("--retry-initial-delay", type=float, default=50, metavar="MS")
    run.add_argument("--retry-max-delay", type=float, default=1000, metavar="MS")
    run.add_argument("--retry-factor", type=float, default=2)
    run.add_argument("-q", "--quiet", action="store_true")
    run.add_argument("-v", "--verbose", action="store_true")
    run.add_argument("--color", action=argparse.BooleanOptionalAction, default=None)
    run.add_argument(
        "--watch",
        action="store_true",
        help="keep the target up and re-run the features whose files (or step "
        "modules) change; no report files; Ctrl-C stops",
    )
    ci_args(run)

    check = sub.add_parser(
        "check",
        help="parse, plan, match steps and resolve placeholders with exampleContext; runs nothing",
    )
    selection_args(check)
    check.add_argument("--syntax-only", action="store_true", help="stop after parsing")

    steps = sub.add_parser("steps", help="list the step sentences as a spec writes them")
    steps.add_argument("--steps", dest="step_modules", action="append", default=[])
    steps.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="json: the catalogue (sentence, parameters, docstring, file:line) "
        "for editors and tools",
    )

    report = sub.add_parser("report", help="rebuild reports from a saved events.ndjson")
    report.add_argument("events", nargs="?", help="path to events.ndjson")
    report.add_argument("--reports", default="reports", metavar="DIR")
    report.add_argument(
        "--merge",
        nargs="+",
        metavar="EVENTS",
        default=[],
        help="one report from several events.ndjson (e.g. the shards of one "
        "CI run; a feature run in several: the last file's)",
    )
    return parser


class _Terminated(BaseException):
    """SIGTERM before or after the run (during it, _StopSignals takes it)."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM while planning or starting ends like Ctrl-C then: exit 143, no old reports.
    # (ValueError: not the main thread, e.g. main() called from a test runner's worker.)
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = {"run": cmd_run, "check": cmd_check, "steps": cmd_steps, "report": cmd_report}[
            args.command
        ](args)
    except SpecErrors as exc:
        _err(f"{exc}\n{len(exc.errors)} problem(s) in the specs")
        _annotate([str(e) for e in exc.errors])
        code = EXIT_USAGE
    except (UsageError, StepLoadError, TagExpressionError, TargetConfigError) as exc:
        _err(f"error: {exc}")
        _annotate(getattr(exc, "problems", []))
        code = EXIT_USAGE
    except TargetError as exc:
        _err(f"target unavailable: {exc}")
        code = EXIT_TARGET
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except _Terminated:
        code = EXIT_TERMINATED
    if (
        args.command == "run"
        and code != EXIT_OK
        and not args.no_reports
        and not getattr(args, "reporting", False)
    ):
        _remove_stale_reports(Path(args.reports))
    return code


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _remove_stale_reports(folder: Path) -> None:
    """This run ended before its reporters started (a usage error, an unreachable
    target, Ctrl-C while starting): the reports there are the previous run's, and left
    in place they would pass for this one's (a CI job would publish them)."""
    from harness.report.writer import EVENTS, RENDERERS

    removed = []
    for name in (*RENDERERS, EVENTS):
        try:
            (folder / name).unlink()
            removed.append(name)
        except OSError:
            continue  # not there (or not ours to remove): nothing claims it is current
    if removed:
        _err(
            f"removed the previous run's reports from {folder}/ ({', '.join(removed)}): "
            "this run wrote none"
        )


def _annotate(problems: list[str]) -> None:
    """Spec errors as GitHub annotations, when running there (harness/report/github.py)."""
    from harness.report import github

    if github.enabled():
        for line in github.problem_annotations(problems):
            print(line)


def _plan(args: argparse.Namespace) -> tuple[Plan, list[str]]:
    files, lines = discover(args.paths)
    if not files:
        raise UsageError(f"no *.feature.md files in {', '.join(args.paths)}")
    features = parse_all(files)
    added = add_needed(features, args.paths)
    for feature in added:
        _err(f"needs: added {feature.path} ({feature.title!r}), which a given spec needs")
    features += added
    files += [Path(f.path) for f in added]
    tags = parse_tag_expression(args.tags) if args.tags else None
    plan = make_plan(features, Selection(lines=lines, names=args.names, tags=tags))
    if not plan.runs:
        raise UsageError("nothing selected: no feature matches the paths, -k and --tags given")
    return plan, [str(f) for f in files]


def _registry(args: argparse.Namespace) -> StepRegistry:
    registry = StepRegistry()
    registry.load(list(DEFAULT_STEP_MODULES) + args.step_modules)
    return registry


def _check_steps(plan: Plan, registry: StepRegistry) -> None:
    problems = check_steps(plan.runs, registry)
    if problems:
        raise UsageError("\n".join(problems) + f"\n{len(problems)} step(s) cannot run", problems)


def cmd_check(args: argparse.Namespace) -> int:
    if args.syntax_only:
        files, _ = discover(args.paths)
        features = parse_all(files)
        print(f"{len(features)} spec(s) parsed")
        return EXIT_OK
    plan, files = _plan(args)
    registry = _registry(args)
    _check_steps(plan, registry)
    problems = check_examples(plan.runs, registry)
    if problems:
        raise UsageError("\n".join(problems), problems)
    print(f"{len(files)} spec(s), {len(plan.runs)} feature run(s): OK")
    return EXIT_OK


def cmd_steps(args: argparse.Namespace) -> int:
    from harness.stepdocs import catalogue, render_json, render_text

    docs = catalogue(_registry(args))
    sys.stdout.write(render_json(docs) if args.format == "json" else render_text(docs))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report import rebuild

    if args.merge or not args.events:
        return cmd_merge(args)
    path = Path(args.events)
    if not path.is_file():
        raise UsageError(f"{path}: no such events file")
    rebuild(path, Path(args.reports))
    print(f"reports written to {args.reports}/")
    return EXIT_OK


def _api_version(text: str) -> str:
    try:
        return parse_api_version(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _variables(pairs: list[str]) -> dict[str, str]:
    variables = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--var {pair!r}: expected NAME=VALUE")
        variables[name.strip()] = value
    return variables


def make_target(args: argparse.Namespace) -> Target:
    variables = _variables(args.variables)
    if args.target != "remote":
        given = [f"--{n.replace('_', '-')}" for n in REMOTE_ONLY if getattr(args, n)]
        if given:
            verb = "is" if len(given) == 1 else "are"
            raise UsageError(
                f"{', '.join(given)} {verb} only for --target remote (the target is {args.target})"
            )
    if args.target == "embedded":
        from harness.targets.embedded import EmbeddedTarget

        return EmbeddedTarget(variables=variables, api_version=args.api_version)
    from harness.targets.remote import RemoteTarget, load_config

    config = load_config(args.target_config) if args.target_config else {}
    return RemoteTarget(
        api_url=args.api_url or config.get("api_url", ""),
        mock_url=args.mock_url or config.get("mock_url", ""),
        admin_token=args.admin_token or config.get("admin_token", ""),
        ws_url=args.ws_url or config.get("ws_url"),
        variables={**(config.get("vars") or {}), **variables},
        api_version=args.api_version or str(config.get("api_version") or ""),
    )


def cmd_run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    plan, files = ci_plan(args)
    if not plan.runs:
        return EXIT_OK  # --last-failed or --shard left nothing (it said so)
    registry = _registry(args)
    _check_steps(plan, registry)
    settings = RunSettings(
        rerun_failed=args.rerun_failed,
        environment=ci_environment(args),
        jobs=args.jobs,
        step_timeout=args.step_timeout,
        run_timeout=args.timeout,
        retry=RetryPolicy(
            tries=args.retry_tries,
            initialDelay=args.retry_initial_delay,
            factor=args.retry_factor,
            maxDelay=args.retry_max_delay,
            timeout=args.retry_timeout,
        ),
    )
    if args.watch:
        from harness.watch import watch

        try:
            return asyncio.run(watch(args, make_target(args), settings))
        except KeyboardInterrupt:
            return EXIT_OK  # the way out of watch mode, not an interrupted run
    target = make_target(args)
    return asyncio.run(_run(plan, registry, target, settings, files, args))


async def _run(
    plan: Plan,
    registry: StepRegistry,
    target: Target,
    settings: RunSettings,
    files: list[str],
    args: argparse.Namespace,
) -> int:
    from harness.report import make_reporters

    await target.start()
    # The reporters only once the target is up: a run that cannot start has nothing to
    # report, and no console summary claims a run that never was.
    bus = EventBus()
    reporters = make_reporters(
        None if args.no_reports else Path(args.reports),
        verbose=args.verbose,
        quiet=args.quiet,
        color=args.color,
        worker=report_worker(),
    )
    for reporter in reporters:
        bus.subscribe(reporter)
    args.reporting = True  # from here on the reports are this run's
    started()  # start-up's objects out of the collector's way (see entry.py)
    try:
        runner = Runner(plan, registry, target, bus, settings, hooks=HOOKS, paths=files)
        with _StopSignals(asyncio.get_running_loop(), runner):
            result = await runner.run()
        return result.exit_code
    finally:
        try:
            await target.stop()
        finally:
            for reporter in reporters:
                reporter.close()


class _StopSignals:
    """Ctrl-C (SIGINT, exit 130) and SIGTERM (exit 143, what CI systems send when a job
    is cancelled) stop the run the same way: every feature run is cancelled, and the
    reports cover what ran. A second signal stops at once (Python's default).

    Plain `signal.signal` handlers rather than the loop's: a handler runs between two
    bytecodes even while a synchronous step holds the loop, and stops that step too.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, runner: Runner) -> None:
        self.loop, self.runner = loop, runner
        self.previous: dict[int, object] = {}

    def __enter__(self) -> _StopSignals:
        try:
            for signum in _STOP_SIGNALS:
                self.previous[signum] = signal.signal(signum, self._on_signal)
        except ValueError:  # not the main thread: signals stay as they are
            pass
        return self

    def __exit__(self, *_: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _on_signal(self, signum: int, _frame: object) -> None:
        signal.signal(
            signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        )
        self.loop.call_soon_threadsafe(self.runner.interrupt, _STOP_SIGNALS[signum])
        blocking.interrupt_blocked()


# -- CI: --last-failed, --shard, --rerun-failed, report --merge (issue 14) --------------


def ci_args(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--last-failed",
        action="store_true",
        help="run only the feature runs that failed (or were skipped because "
        "of a failure) in the last run of --reports, with what they need",
    )
    run.add_argument(
        "--rerun-failed",
        type=int,
        default=0,
        metavar="N",
        help="run a failed feature run again, up to N times; one that then "
        "passes is flaky in every report",
    )
    run.add_argument(
        "--shard",
        metavar="K/N",
        help="run shard K of N: a deterministic share of the feature runs, "
        "each with what it needs; the N shards together run every one once",
    )
    run.add_argument(
        "--shard-durations",
        metavar="EVENTS",
        help="balance the shards by the durations of a previous run "
        "(its events.ndjson) instead of by step counts",
    )


def ci_plan(args: argparse.Namespace) -> tuple[Plan, list[str]]:
    """The plan, narrowed by --last-failed and --shard (harness/narrow.py)."""
    from harness import narrow

    if args.rerun_failed < 0:
        raise UsageError("--rerun-failed must be 0 or more")
    try:
        failed = None
        if args.last_failed:
            last = narrow.last_run(Path(args.reports) / "events.ndjson")
            failed = narrow.failed_run_ids(last)
            if not failed:
                print(f"--last-failed: nothing failed in the last run of {args.reports}/")
                return Plan(runs=[]), []
            if args.paths == ["specs"] and last.paths:  # the default: what the last run ran
                args.paths = [p for p in last.paths if Path(p).exists()] or args.paths
        plan, files = _plan(args)
        if failed is not None:
            plan = narrow.narrow(plan, failed)
            if not plan.runs:
                raise UsageError(
                    "--last-failed: none of the feature runs that failed last "
                    f"time is in {', '.join(args.paths)}: {', '.join(failed)}"
                )
        if args.shard:
            k, n = narrow.parse_shard(args.shard)
            durations = (
                narrow.durations_of(Path(args.shard_durations)) if args.shard_durations else None
            )
            total = len(plan.runs)
            plan = narrow.shard(plan, k, n, durations)
            if not plan.runs:
                print(
                    f"--shard {k}/{n}: nothing to run ({total} feature runs in fewer "
                    f"groups than {n} shards)"
                )
    except narrow.NarrowError as exc:
        raise UsageError(str(exc)) from None
    return plan, files


def ci_environment(args: argparse.Namespace) -> dict:
    """RunStarted.environment (harness/environment.py)."""
    from harness.environment import environment

    backend = None
    if args.target == "embedded":
        from reference_backend import __version__

        backend = f"reference_backend {__version__} (embedded)"
    else:
        backend = args.api_url or None
    return environment(
        target=args.target,
        api_version=args.api_version,
        backend=backend,
        argv=sys.argv[1:],
        reports=None if args.no_reports else args.reports,
    )


def cmd_merge(args: argparse.Namespace) -> int:
    from harness.report.merge import merge_files

    paths = [Path(p) for p in [*([args.events] if args.events else []), *args.merge]]
    if not paths:
        raise UsageError("report: give an events.ndjson, or --merge A B ...")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UsageError(f"{', '.join(missing)}: no such events file")
    merge_files(paths, Path(args.reports))
    print(f"{len(paths)} event files merged; reports written to {args.reports}/")
    return EXIT_OK
