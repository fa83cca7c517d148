"""``compile image`` (build and push the manifest's image) and ``compile run`` (a job from flags).

Everything heavy is imported inside the commands, so ``compile --help`` stays fast.
"""

from __future__ import annotations

import sys

import click

from .app import cli
from .common import (
    EXIT_ENV,
    EXIT_INVALID,
    EXIT_OK,
    request_timeout_option,
    shared_options,
    watch_timeout_option,
)

ENVIRONMENT_CODES = ("E006", "E604", "E608")
EXIT_INTERRUPTED = 130


def _exit_code(diagnostics) -> int:
    from ..diagnostics import has_errors

    if any(d.code in ENVIRONMENT_CODES and d.is_error for d in diagnostics):
        return EXIT_ENV
    return EXIT_INVALID if has_errors(diagnostics) else EXIT_OK


def _report(diagnostics, quiet: bool = False) -> int:
    """Print the diagnostics on stderr; the exit code they call for."""
    from .render import as_text

    shown = [d for d in dict.fromkeys(diagnostics) if d.is_error or not quiet]
    if shown:
        click.echo(as_text(sorted(shown, key=lambda d: d.sort_key())), err=True, nl=False)
    return _exit_code(diagnostics)


def _stop_on_errors(diagnostics, quiet: bool = False) -> None:
    from ..diagnostics import has_errors

    code = _report(diagnostics, quiet)
    if has_errors(diagnostics):
        sys.exit(code)


# ---------------------------------------------------------------------------------------------
# compile image


@cli.command("image")
@click.argument("file", type=click.Path())
@shared_options
@click.option(
    "--builder",
    type=click.Choice(["docker", "kaniko"]),
    default="docker",
    show_default=True,
    help="docker: build and push here with `docker buildx`; kaniko: a build Job on the cluster.",
)
@click.option(
    "--allow-dirty", is_flag=True, help="Build even with uncommitted changes or an unpushed commit."
)
@click.option(
    "--output-digest",
    type=click.Path(dir_okay=False),
    help="Also write the pushed digest to this file.",
)
@click.option(
    "--registry-secret",
    default="registry-credentials",
    show_default=True,
    help="kaniko: the docker-registry Secret holding the push credentials.",
)
@click.option(
    "--submit", is_flag=True, help="kaniko: apply the build Job, wait for it and report the digest."
)
@click.option(
    "--context", help="kaniko --submit: kubeconfig context (default: the current context)."
)
@click.option(
    "--dry-run", is_flag=True, help="Print the docker command (docker) and build nothing."
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print warnings.")
def image_command(
    file,
    builder,
    allow_dirty,
    output_digest,
    registry_secret,
    submit,
    context,
    dry_run,
    quiet,
    **options,
):
    """Build and push the image FILE's `builder` section describes, tagged with the git commit.

    \b
    The working tree must be clean and its commit pushed (unless --allow-dirty).
    Prints IMAGE:TAG@sha256:… ; pin a workload to it with `compile --image-digest`.
    With --builder kaniko and no --submit, prints the build Job instead.
    """
    import shlex

    from ..image.docker import docker_build_args
    from ..image.kaniko import kaniko_job
    from ..render import to_yaml

    if builder == "kaniko" and not submit:
        unit, plan, _ = _checked_plan(file, builder, allow_dirty, quiet, options)
        click.echo(to_yaml([kaniko_job(plan, unit.workload.namespace, registry_secret)]), nl=False)
        return
    if builder == "docker" and dry_run:
        _, plan, _ = _checked_plan(file, builder, allow_dirty, quiet, options)
        click.echo(shlex.join(docker_build_args(plan, "METADATA_FILE")))
        return
    reference, digest = build_image(
        file, builder, allow_dirty, registry_secret, context, quiet, **options
    )
    click.echo(f"{reference}@{digest}")
    if output_digest:
        _write_digest(output_digest, digest)


def build_image(
    file,
    builder="docker",
    allow_dirty=False,
    registry_secret="registry-credentials",
    context=None,
    quiet=False,
    **options,
) -> tuple[str, str]:
    """Build and push FILE's image: (REPOSITORY:TAG, sha256 digest). On any problem the diagnostics
    are printed and the process exits, as the commands do (for ``compile submit --build`` too)."""
    from ..image.kaniko import kaniko_job

    unit, plan, root = _checked_plan(file, builder, allow_dirty, quiet, options)
    if builder == "docker":
        return plan.destination, _docker_build(plan, unit, root)
    job = kaniko_job(plan, unit.workload.namespace, registry_secret)
    return plan.destination, _run_build_job(job, unit, context)


def _checked_plan(file, builder, allow_dirty, quiet, options):
    """(unit, BuildPlan, repository root); exits on errors."""
    unit, plan, root, diagnostics = _plan_build(file, builder, allow_dirty, options)
    _stop_on_errors(diagnostics, quiet)
    return unit, plan, root


def _plan_build(file, builder, allow_dirty, options):
    """(the workload's unit, its BuildPlan, the repository root, diagnostics); None for what is unknown."""
    import os

    from ..diagnostics import error
    from ..image.git import GitUnavailable, check_git, read_git_facts

    unit, diagnostics = _the_workload(file, options)
    if unit is None:
        return None, None, None, diagnostics
    where = _builder_location(unit)
    try:
        facts = read_git_facts(os.path.dirname(os.path.abspath(file)))
    except GitUnavailable as exc:
        return (
            unit,
            None,
            None,
            diagnostics
            + [error("E604", f"cannot read the git repository of {file}: {exc}", where, "builder")],
        )
    problems = check_git(facts, allow_dirty, where)
    if builder == "kaniko" and allow_dirty and not facts.remote_branches:
        problems.append(
            error(
                "E603",
                f"commit {facts.short_commit} is not on any remote branch, and kaniko builds "
                "from the remote: push it first",
                where,
            )
        )
    paths, missing = _locate_sources(facts.root, unit.workload.manifest.builder, where)
    if problems or missing:
        return unit, None, None, diagnostics + problems + missing
    return unit, _plan(unit.workload.manifest, facts, paths, builder), facts.root, diagnostics


def _the_workload(file, options):
    """(the one compiled workload of FILE that has a builder section, or None; diagnostics)."""
    from ..diagnostics import Location, error, has_errors
    from ..inputs import compile_paths

    _, units, diagnostics = compile_paths((file,), **options)
    if has_errors(diagnostics):
        return None, diagnostics
    workloads = [unit for unit in units if unit.workload is not None]
    if len(workloads) != 1:
        return None, diagnostics + [
            error(
                "E605",
                f"{file} holds {len(workloads)} workloads; `compile image` builds the image of exactly one",
                Location(file),
            )
        ]
    (unit,) = workloads
    assert unit.workload is not None  # chosen above
    if unit.workload.manifest.builder is None:
        return None, diagnostics + [
            error(
                "E605",
                "this manifest has no builder section: nothing says how to build its image",
                _builder_location(unit),
                "builder",
            )
        ]
    return unit, diagnostics


def _plan(manifest, facts, paths, builder: str):
    from ..image.git import split_remote_branch
    from ..image.plan import BuildPlan, build_args_of, image_tag
    from ..imageref import parse_reference, with_registry

    section = manifest.builder
    branch = facts.remote_branches[0] if facts.remote_branches else None
    remote, branch_name = split_remote_branch(branch) if branch else (None, None)
    image = section.image or manifest.spec.image
    return BuildPlan(
        repository=with_registry(parse_reference(image).repository, section.registry),
        tag=image_tag(
            facts.short_commit, facts.dirty and builder == "docker"
        ),  # kaniko builds the commit itself
        context=paths[0],
        dockerfile=paths[1],
        build_args=build_args_of(section),
        target=section.target,
        commit=facts.commit,
        remote_url=facts.remote_url(remote) if remote else None,
        remote_branch=branch_name,
    )


def _builder_location(unit):
    """Where the manifest's builder section starts (the document's start when it has none)."""
    return unit.document.positions.nearest(("builder",), prefer_key=True)


def _locate_sources(root: str, builder, where):
    """((context, dockerfile) relative to ``root``, problems): both must exist in the tree."""
    import os

    from ..diagnostics import error
    from ..image.plan import dockerfile_candidates, normalise_path

    context = normalise_path(builder.context, ".")
    if (
        context.startswith("..")
        or os.path.isabs(context)
        or not os.path.isdir(os.path.join(root, context))
    ):
        return None, [
            error(
                "E606",
                f"the build context {builder.context!r} is not a directory of the repository {root}",
                where,
                "builder.context",
            )
        ]
    candidates = dockerfile_candidates(context, builder.dockerfile or "Dockerfile")
    for candidate in candidates:
        if not candidate.startswith("..") and os.path.isfile(os.path.join(root, candidate)):
            return (context, candidate), []
    looked = " or ".join(candidates)
    return None, [
        error(
            "E606", f"no Dockerfile at {looked} (relative to {root})", where, "builder.dockerfile"
        )
    ]


def _docker_build(plan, unit, root: str) -> str:
    import os
    import tempfile

    from ..diagnostics import error
    from ..image.docker import BuildFailed, ToolMissing, run_docker_build

    where = _builder_location(unit)
    with tempfile.TemporaryDirectory(prefix="compile-image-") as scratch:
        try:
            result = run_docker_build(plan, root, os.path.join(scratch, "metadata.json"))
        except ToolMissing as exc:
            sys.exit(
                _report(
                    [
                        error(
                            "E608",
                            f"{exc}; install Docker with buildx, or use --builder kaniko",
                            where,
                            "builder",
                        )
                    ]
                )
            )
        except BuildFailed as exc:
            sys.exit(
                _report(
                    [error("E607", f"building {plan.destination} failed: {exc}", where, "builder")]
                )
            )
    return result.digest


def _notice(message: str) -> None:
    click.echo(message, err=True)


def _run_build_job(job: dict, unit, context) -> str:
    """Apply the kaniko Job (or find the one already built for this commit), follow it to its end,
    and read the digest its pod wrote to its termination message."""
    from ..cluster.client import ClusterError, connect
    from ..cluster.jobs import find_existing, list_pods
    from ..cluster.kinds import JOB
    from ..cluster.session import Output, apply_objects, follow_job
    from ..diagnostics import error
    from ..image.kaniko import digest_from_pod

    where = _builder_location(unit)
    progress = Output(write=_notice, notice=_notice)  # stdout is for the result
    try:
        kube = connect(context, job["metadata"].get("namespace"))
        job["metadata"].setdefault("namespace", kube.namespace)
        found = find_existing(kube, JOB, job["metadata"]["namespace"], job["metadata"]["name"])
        if found is not None:
            _notice(f"job/{found.name} already builds this commit; following it")
        else:
            found = apply_objects(kube, [job], replace=False, dry_run=False, out=progress)
        code = follow_job(kube, found, progress)
        pods = list_pods(kube, found) if code == EXIT_OK else []
    except ClusterError as exc:  # the exit code of the cluster commands' table (errors.py)
        diagnostic, text = (
            ("E608", f"cannot build on the cluster: {exc.line}")
            if exc.code == EXIT_ENV
            else ("E607", f"the API server refused the build Job: {exc.line}")
        )
        sys.exit(_report([error(diagnostic, text, where, "builder")]))
    logs = f"compile logs job/{found.name} -n {found.namespace}"
    if code == EXIT_INTERRUPTED:  # the Job keeps building; follow_job said how to reattach
        sys.exit(code)
    if code != EXIT_OK:
        sys.exit(
            _report(
                [
                    error(
                        "E607",
                        f"the build Job {found.name} did not succeed; see {logs}",
                        where,
                        "builder",
                    )
                ]
            )
        )
    digests = [digest for digest in map(digest_from_pod, pods) if digest]
    if not digests:
        sys.exit(
            _report(
                [
                    error(
                        "E607",
                        f"the build Job {found.name} succeeded but no pod reported a digest; see {logs}",
                        where,
                        "builder",
                    )
                ]
            )
        )
    return digests[0]


def _write_digest(path: str, digest: str) -> None:
    from ..diagnostics import Location, error

    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(digest + "\n")
    except OSError as exc:
        sys.exit(
            _report(
                [error("E006", f"cannot write the digest: {exc.strerror or exc}", Location(path))]
            )
        )


# ---------------------------------------------------------------------------------------------
# compile run

RUN_OPERATORS = ("batchjob", "jobset", "kuberay")  # compiler.adhoc's, not imported at start-up


@cli.command("run", context_settings={"allow_interspersed_args": False})
@click.option("--image", required=True, help="The container image to run.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="1: a batch/v1 Job; 2 or more: a RayJob with this many workers (see --operator).",
)
@click.option(
    "--operator",
    type=click.Choice(RUN_OPERATORS),
    help="The kind of job: batchjob (a Job of --workers pods), jobset (--workers Jobs of one "
    "pod), kuberay (a RayJob) [default: batchjob for 1 worker, else kuberay].",
)
@click.option(
    "--cpus",
    type=click.FloatRange(min=0, min_open=True),
    help="CPUs per worker (default: 1, or the policy's).",
)
@click.option(
    "--gpus", type=click.IntRange(min=0), default=0, show_default=True, help="GPUs per worker."
)
@click.option(
    "--memory",
    type=click.FloatRange(min=0, min_open=True),
    help="Memory per worker in GB (default: 4 GB per CPU).",
)
@click.option("--queue", help="Kueue LocalQueue to submit to.")
@shared_options
@click.option(
    "--print-manifest",
    is_flag=True,
    help="Print the manifest synthesised from the flags, and stop.",
)
@click.option("--dry-run", is_flag=True, help="Print the objects instead of submitting them.")
@click.option("--watch", is_flag=True, help="Follow the job until it finishes.")
@click.option(
    "--logs", "with_logs", is_flag=True, help="With --watch: stream the first pod's logs too."
)
@click.option("--context", help="kubeconfig context (default: the current context).")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="Output format of --dry-run.",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print warnings.")
@request_timeout_option
@watch_timeout_option
@click.argument("command", nargs=-1, required=True, metavar="-- CMD...")
def run_command(
    image,
    workers,
    operator,
    cpus,
    gpus,
    memory,
    queue,
    print_manifest,
    dry_run,
    watch,
    with_logs,
    context,
    output,
    quiet,
    timeout,
    watch_timeout,
    command,
    **options,
):
    """Run CMD in IMAGE without writing a manifest, under the same policies as a manifest.

    \b
    compile run --image registry.example.com/train:abc123 -- python train.py --epochs 3
    compile run --image IMG --workers 4 --gpus 1 --dry-run -- python -m ray_train
    """
    from ..adhoc import RunRequest, manifest_yaml, synthesise_manifest

    request = RunRequest(
        image=image,
        command=tuple(command),
        workers=workers,
        cpus=cpus,
        gpus=gpus,
        memory=memory,
        queue=queue,
        name=options.get("name"),
        project=options.get("project"),
        operator=operator,
    )
    manifest = synthesise_manifest(request)
    text = manifest_yaml(manifest)
    if print_manifest:
        click.echo(text, nl=False)
        return
    if dry_run:
        from ..render import to_json, to_yaml

        objects = _compile_run_manifest(text, options, quiet)
        click.echo(to_json(objects) if output == "json" else to_yaml(objects), nl=False)
        return
    if with_logs and not watch:
        raise click.UsageError("--logs streams logs while watching; add --watch")
    if watch_timeout is not None and not watch:
        raise click.UsageError("--timeout bounds a watch; add --watch")
    sys.exit(
        _submit_run(request, options, quiet, context, watch, with_logs, timeout, watch_timeout)
    )


def _compile_run_manifest(text: str, options: dict, quiet: bool, annotations=()) -> list[dict]:
    """The objects of the synthesised manifest, through the pipeline; stops on errors."""
    from ..adhoc import RUN_SOURCE
    from ..inputs import load_inputs
    from ..parse import load_documents
    from ..pipeline import compile_documents

    inputs = load_inputs((), extra_annotations=annotations, **options)
    documents, problems = load_documents(text, RUN_SOURCE)
    units = compile_documents(documents, inputs.catalog, inputs.options)
    diagnostics = (
        list(inputs.diagnostics) + problems + [d for unit in units for d in unit.diagnostics]
    )
    _stop_on_errors(diagnostics, quiet)
    return [obj for unit in units for obj in unit.objects]


def _submit_run(
    request,
    options: dict,
    quiet: bool,
    context,
    watch: bool,
    with_logs: bool,
    timeout=None,
    watch_timeout=None,
) -> int:
    """Apply the run's objects (recording who submitted it and the image), then follow it if asked.

    Without --name, each submission gets a new name (a timestamp suffix), so a command can be run
    again; --print-manifest and --dry-run stay deterministic.
    """
    from dataclasses import replace

    from ..adhoc import default_name, manifest_yaml, synthesise_manifest
    from ..cluster.kinds import main_object
    from ..cluster.session import Output, submit_objects
    from ..cluster.submit import GitState, image_of, now_suffix, record, submitter

    if not request.name:
        request = replace(request, name=default_name(request) + now_suffix())
        options = {**options, "name": request.name}
    text = manifest_yaml(synthesise_manifest(request))
    probe = _compile_run_manifest(text, options, quiet)
    annotations = record(GitState(None), image_of(main_object(probe) or {}), submitter())
    objects = _compile_run_manifest(text, options, True, annotations)
    return submit_objects(
        objects,
        watch,
        context=context,
        namespace=options.get("namespace"),
        with_logs=with_logs,
        out=Output(write=click.echo, notice=_notice),
        timeout=timeout,
        watch_timeout=watch_timeout,
    )
