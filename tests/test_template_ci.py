"""The CI workflow every template generates (`.github/workflows/package.yml`).

Its structure is read as YAML; every cloacinactl command line in it and in the generated
READMEs is checked against the real click command tree (and, for `validate --format sarif`
and `diff`, against the interfaces being built beside this change); and its shell steps run
for real where the commands exist: package, sign with and without the secret, verify
against trust/, and the diff step's search for the previous release (with a stand-in for
`cloacinactl diff`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from itertools import takewhile
from pathlib import Path

import click
import pytest
import yaml

from cloacina_build.cli.main import cli
from cloacina_build.project.scaffold import create_project

TEMPLATES = ["python", "pyproject", "rust"]
EXE = Path(sys.executable).with_name("cloacinactl")
# Options of the commands being built in parallel, as their interfaces specify them:
# option -> None for a flag, else the values it accepts (empty: any value).
PLANNED: dict[str, dict[str, set[str] | None]] = {
    "validate": {"--format": {"sarif"}, "-o": set()},
    "diff": {"--json": None, "--exit-zero": None},
}
PLANNED_ARGS = {"diff": (2, 2)}
SHELL_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "2>&1", "2>/dev/null"}
SECRETS = {"CLOACINA_SIGNING_KEY", "CLOACINA_KEY_PASSPHRASE"}
REGISTRY_SECRETS = {"CLOACINA_REGISTRY", "CLOACINA_REGISTRY_USERNAME",
                    "CLOACINA_REGISTRY_PASSWORD"}


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ci")
    return {t: create_project("ci-demo", template=t, path=root / t) for t in TEMPLATES}


def workflow(project: Path) -> dict:
    doc = yaml.safe_load((project / ".github/workflows/package.yml").read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def steps(project: Path) -> list[dict]:
    return workflow(project)["jobs"]["package"]["steps"]


def step(project: Path, step_id: str) -> dict:
    return next(s for s in steps(project) if s.get("id") == step_id)


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", markdown, re.S)


def cloacinactl_lines(project: Path) -> list[str]:
    """Every cloacinactl command line in the workflow's scripts and the READMEs' sh blocks."""
    texts = [s["run"] for s in steps(project) if "run" in s]
    for readme in ("README.md", "trust/README.md"):
        texts += shell_blocks((project / readme).read_text())
    return [line.strip() for text in texts for line in text.splitlines()
            if line.strip().startswith("cloacinactl ")]


def command_of(words: list[str]) -> tuple[str, click.Command | None]:
    cmd: click.Command | None = cli
    names = []
    while isinstance(cmd, click.Group) and words and not words[0].startswith("-"):
        names.append(words.pop(0))
        cmd = cmd.commands.get(names[-1])
    return " ".join(names), cmd


def options_and_arity(name: str, cmd: click.Command | None):
    options: dict[str, set[str] | None] = dict(PLANNED.get(name, {}))
    arity = PLANNED_ARGS.get(name, (1, 1))
    if cmd is not None:
        for param in cmd.params:
            if isinstance(param, click.Option):
                takes = None if param.is_flag or param.count else set(
                    getattr(param.type, "choices", ()))
                options.update(dict.fromkeys(param.opts + param.secondary_opts, takes))
        args = [p for p in cmd.params if isinstance(p, click.Argument)]
        arity = (sum(p.required for p in args), len(args))
    return options, arity


def problems_of(line: str) -> list[str]:
    """What is wrong with one cloacinactl command line: an unknown command or option, a
    value an option does not take, a missing option value, the wrong number of arguments."""
    words = list(takewhile(lambda w: w not in SHELL_OPERATORS,
                           shlex.split(line, comments=True)))[1:]
    name, cmd = command_of(words)
    if cmd is None and name not in PLANNED or isinstance(cmd, click.Group):
        return [f"unknown command {name!r}"]
    options, (least, most) = options_and_arity(name, cmd)
    problems, positional = [], 0
    while words:
        word = words.pop(0)
        if not word.startswith("-") or word == "-":
            positional += 1
            continue
        option, _, inline = word.partition("=")
        if option not in options:
            problems.append(f"{name}: unknown option {option}")
            continue
        allowed = options[option]
        if allowed is None:
            continue
        value = inline or (words.pop(0) if words else None)
        if value is None or allowed and value not in allowed:
            problems.append(f"{name} {option}: {value!r} is not one of {sorted(allowed)}")
    if not least <= positional <= most:
        problems.append(f"{name}: {positional} argument(s), expected {least}..{most}")
    return problems


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_workflow_runs_every_stage_in_order(projects, template):
    project = projects[template]
    doc = workflow(project)
    assert {"push", "pull_request", "workflow_dispatch"} <= set(doc["on"])
    assert doc["permissions"] == {"contents": "read", "security-events": "write",
                                  "actions": "read"}
    ids = [s.get("id") for s in steps(project) if s.get("id")]
    assert ids == ["install", "test", "validate", "sarif", "package", "sign", "verify", "diff",
                   "publish"]
    test = "cargo test --offline" if template == "rust" else "pytest"
    assert step(project, "test")["run"] == test
    assert steps(project)[0]["uses"] == "actions/checkout@v4"
    assert steps(project)[0]["with"]["fetch-depth"] == 0  # the tags, for the diff step
    artifact = steps(project)[-1]
    assert artifact["uses"].startswith("actions/upload-artifact@")
    assert artifact["with"] == {"name": "ci-demo", "path": "dist/"}


@pytest.mark.parametrize("template", TEMPLATES)
def test_validate_writes_sarif_and_it_is_uploaded_even_when_validate_fails(projects,
                                                                           template):
    project = projects[template]
    words = shlex.split(step(project, "validate")["run"])
    assert words[:3] == ["cloacinactl", "validate", "."]
    assert words[words.index("--format") + 1] == "sarif"
    sarif = words[words.index("-o") + 1]
    upload = step(project, "sarif")
    assert upload["uses"] == "github/codeql-action/upload-sarif@v3"
    assert upload["with"]["sarif_file"] == sarif
    condition = upload["if"].replace(" ", "")
    assert "always()" in condition or "success()||failure()" in condition
    assert f"hashFiles('{sarif}')" in condition  # no upload when validate wrote nothing
    assert sarif in (project / ".gitignore").read_text().split()


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_cloacinactl_line_uses_real_commands_and_options(projects, template):
    lines = cloacinactl_lines(projects[template])
    run = {shlex.split(line)[1] for line in lines}
    assert {"validate", "package", "sign", "verify", "diff", "key", "inspect", "attest",
            "push"} <= run
    assert {line: problems_of(line) for line in lines if problems_of(line)} == {}


def test_the_line_checker_finds_mistakes():
    """The checker above is what stands between a typo and a user's broken CI."""
    assert problems_of("cloacinactl validate . --format sarif -o x.sarif") == []
    assert problems_of("cloacinactl diff a b --exit-zero --json > d.txt") == []
    assert problems_of("cloacinactl key generate ci --out k/ --encrypt") == []
    assert problems_of("cloacinactl validate . --format sraif")
    assert problems_of("cloacinactl verify x.cloacina --trusted trust/")
    assert problems_of("cloacinactl diff a --exit-zero")
    assert problems_of("cloacinactl sign --key env:K")
    assert problems_of("cloacinactl keys generate ci --out k/")
    assert problems_of("cloacinactl package . --format zip")
    assert problems_of('cloacinactl push "$p" "oci://r/x" --username u --password-stdin') == []
    assert problems_of("cloacinactl attest dist/x.cloacina --key env:K") == []
    assert problems_of("cloacinactl push dist/x.cloacina")
    assert problems_of("cloacinactl push a oci://r/x --password")
    assert problems_of("cloacinactl push a oci://r/x --username")
    assert problems_of("cloacinactl attest --key env:K")


@pytest.mark.parametrize("template", TEMPLATES)
def test_secrets_reach_only_their_steps_and_only_through_env(projects, template):
    project = projects[template]
    text = (project / ".github/workflows/package.yml").read_text()
    assert set(re.findall(r"secrets\.(\w+)", text)) == SECRETS | REGISTRY_SECRETS
    sign = step(project, "sign")
    assert sign["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in SECRETS}
    assert "--key env:CLOACINA_SIGNING_KEY" in sign["run"]
    assert sign["if"] == "github.event_name != 'pull_request'"
    publish = step(project, "publish")
    assert publish["env"] == {
        "CLOACINA_REGISTRY": "${{ vars.CLOACINA_REGISTRY || secrets.CLOACINA_REGISTRY }}",
        "CLOACINA_REGISTRY_USERNAME": "${{ secrets.CLOACINA_REGISTRY_USERNAME }}",
        "CLOACINA_REGISTRY_PASSWORD": "${{ secrets.CLOACINA_REGISTRY_PASSWORD }}",
        "CLOACINA_REPOSITORY": "ci-demo"}
    assert publish["if"] == "github.ref_type == 'tag'"
    # the password reaches cloacinactl on standard input, never on its command line
    assert "--password-stdin" in publish["run"] and "--password " not in publish["run"]
    for s in steps(project):
        assert "${{" not in s.get("run", ""), s  # no expression in a script: no injection
        if s.get("id") not in ("sign", "publish"):
            assert "secrets." not in str(s.get("env", {})), s


@pytest.mark.parametrize("template", TEMPLATES)
def test_actions_are_pinned_to_major_versions(projects, template):
    uses = [s["uses"] for s in steps(projects[template]) if "uses" in s]
    assert all(re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", u) for u in uses), uses
    assert {u.split("@")[0] for u in uses} == {
        "actions/checkout", "actions/setup-python", "github/codeql-action/upload-sarif",
        "actions/upload-artifact"}


def test_the_python_templates_share_one_workflow(projects):
    assert (projects["python"] / ".github/workflows/package.yml").read_text() == \
        (projects["pyproject"] / ".github/workflows/package.yml").read_text()


@pytest.mark.skipif(not shutil.which("actionlint"), reason="actionlint is not installed")
def test_actionlint_accepts_the_workflows(projects):
    files = [str(p / ".github/workflows/package.yml") for p in projects.values()]
    proc = subprocess.run(["actionlint", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed")
@pytest.mark.parametrize("template", TEMPLATES)
def test_shellcheck_accepts_every_script(projects, template):
    for s in steps(projects[template]):
        if "run" in s:
            proc = subprocess.run(["shellcheck", "--shell=bash", "-"], input=s["run"],
                                  capture_output=True, text=True)
            assert proc.returncode == 0, f"{s.get('id')}:\n{proc.stdout}"


def run_step(project: Path, step_id: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """One step's script, run the way GitHub runs it (bash -eo pipefail)."""
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                           step(project, step_id)["run"]], cwd=project, env=env,
                          capture_output=True, text=True)


def actions_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOACINA_", "GITHUB_"))}
    (tmp_path / "runner").mkdir(exist_ok=True)
    env.update(PATH=f"{EXE.parent}{os.pathsep}{env.get('PATH', '')}",
               GITHUB_OUTPUT=str(tmp_path / "runner" / "output"),
               GITHUB_STEP_SUMMARY=str(tmp_path / "runner" / "summary"),
               RUNNER_TEMP=str(tmp_path / "runner"), GITHUB_REPOSITORY="acme/ci-demo",
               GITHUB_SHA="0" * 40, CLOACINA_SIGNING_KEY="", CLOACINA_KEY_PASSPHRASE="")
    env.update(extra)
    return env


def test_the_package_sign_and_verify_steps_run(tmp_path):
    project = create_project("ci-demo", path=tmp_path / "ci-demo")
    env = actions_env(tmp_path)
    output = Path(env["GITHUB_OUTPUT"])
    proc = run_step(project, "package", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # No secret (a fork, no key yet): a clean skip that says so.
    proc = run_step(project, "sign", env)
    assert proc.returncode == 0, proc.stderr
    assert "::warning::not signed" in proc.stdout and "signed=false" in output.read_text()
    # The secret, an encrypted key and its passphrase, but nothing in trust/ yet.
    keys = tmp_path / "keys"
    env["CLOACINA_KEY_PASSPHRASE"] = "ci passphrase"
    subprocess.run([EXE, "key", "generate", "ci-demo-ci", "--out", keys, "--encrypt"],
                   env=env, check=True, capture_output=True)
    env["CLOACINA_SIGNING_KEY"] = (keys / "ci-demo-ci.key").read_text()
    proc = run_step(project, "sign", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert output.read_text().splitlines()[-1] == "signed=true"
    proc = run_step(project, "verify", env)
    assert proc.returncode == 1 and "::error::trust/ holds no .pub file" in proc.stdout
    # The public half committed in trust/, as trust/README.md says.
    shutil.copy(keys / "ci-demo-ci.pub", project / "trust")
    proc = run_step(project, "verify", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified: ci-demo 0.1.0, signed by ci-demo-ci, build provenance verified" \
        in proc.stdout
    assert (project / "dist" / "ci-demo-0.1.0.cloacina.intoto.jsonl").is_file()
    assert "acme/ci-demo@0000" in subprocess.run(
        [EXE, "inspect", "dist/ci-demo-0.1.0.cloacina"], cwd=project, env=env,
        capture_output=True, text=True).stdout


def git(project: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True)


@pytest.mark.skipif(not shutil.which("git"), reason="git is not installed")
def test_the_diff_step_compares_a_tag_with_the_previous_tag(tmp_path):
    """`cloacinactl diff` is not on main yet: a stand-in records how the step calls it."""
    project = create_project("ci-demo", path=tmp_path / "ci-demo", variables={
        "version": "0.1.0"})
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "cloacinactl").write_text('#!/bin/sh\necho "$*" >> "$STUB_LOG"\necho "stub $*"\n')
    (stub / "cloacinactl").chmod(0o755)
    env = actions_env(tmp_path, STUB_LOG=str(tmp_path / "calls"), GITHUB_REF_NAME="v0.1.0",
                      PATH=f"{stub}{os.pathsep}{os.environ['PATH']}")
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "first")
    git(project, "tag", "v0.1.0")
    (project / "dist").mkdir()
    proc = run_step(project, "diff", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "v0.1.0 is the first release" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert not (tmp_path / "calls").exists()

    package_toml = project / "package.toml"
    package_toml.write_text(package_toml.read_text().replace('"0.1.0"', '"0.2.0"'))
    git(project, "commit", "-qam", "second")
    git(project, "commit", "-q", "--allow-empty", "-m", "third")
    git(project, "tag", "-a", "v0.2.0", "-m", "release 0.2.0")
    proc = run_step(project, "diff", {**env, "GITHUB_REF_NAME": "v0.2.0"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    previous = tmp_path / "runner" / "previous-release"
    assert (tmp_path / "calls").read_text().splitlines() == [
        f"diff {previous} . --exit-zero", f"diff {previous} . --exit-zero --json"]
    assert '"0.1.0"' in (previous / "package.toml").read_text()  # the old tag's project
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "## Changes since v0.1.0" in summary and f"stub diff {previous}" in summary
    assert (project / "dist" / "diff.txt").read_text().startswith("stub diff")
    assert (project / "dist" / "diff.json").read_text().startswith("stub diff")


def stub_cloacinactl(tmp_path: Path) -> Path:
    """A stand-in cloacinactl that records its arguments and standard input."""
    stub = tmp_path / "stub"
    stub.mkdir(exist_ok=True)
    (stub / "cloacinactl").write_text(
        '#!/bin/sh\necho "$*" >> "$STUB_LOG"\n'
        'if [ "${*#*--password-stdin}" != "$*" ]; then cat >> "$STUB_LOG.stdin"; fi\n')
    (stub / "cloacinactl").chmod(0o755)
    return stub


def test_the_publish_step_pushes_only_when_a_registry_is_set(tmp_path):
    project = create_project("ci-demo", path=tmp_path / "ci-demo")
    (project / "dist").mkdir()
    for name in ("ci-demo-0.1.0.cloacina", "ci-demo-0.1.0.cloacina.intoto.jsonl", "diff.txt"):
        (project / "dist" / name).write_text("x")
    log = tmp_path / "calls"
    env = actions_env(tmp_path, STUB_LOG=str(log), CLOACINA_REPOSITORY="ci-demo",
                      PATH=f"{stub_cloacinactl(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    # No registry configured: a notice, nothing pushed, the release goes on.
    proc = run_step(project, "publish", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "::notice::not published" in proc.stdout and not log.exists()
    # A registry that needs no credentials (or docker's config.json has them).
    proc = run_step(project, "publish", {**env, "CLOACINA_REGISTRY": "registry.example/acme"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert log.read_text().splitlines() == [
        "push dist/ci-demo-0.1.0.cloacina oci://registry.example/acme/ci-demo"]
    # Credentials from the secrets: the password on standard input only.
    log.unlink()
    proc = run_step(project, "publish", {
        **env, "CLOACINA_REGISTRY": "ghcr.io/acme", "CLOACINA_REGISTRY_USERNAME": "bot",
        "CLOACINA_REGISTRY_PASSWORD": "s3cret token"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert log.read_text().splitlines() == [
        "push dist/ci-demo-0.1.0.cloacina oci://ghcr.io/acme/ci-demo --username bot "
        "--password-stdin"]
    assert Path(f"{log}.stdin").read_text() == "s3cret token\n"
    assert "s3cret" not in log.read_text()


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_repository_is_the_lower_case_project_name(tmp_path, template):
    project = create_project("Order_ETL.v2", template=template, path=tmp_path / "p")
    repository = step(project, "publish")["env"]["CLOACINA_REPOSITORY"]
    assert repository == "order-etl-v2"
    assert re.fullmatch(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*", repository)  # OCI's rule


@pytest.mark.parametrize("with_auth", [False, True])
def test_the_publish_step_pushes_to_a_real_registry(tmp_path, request, with_auth):
    """The step's own script, run as GitHub runs it, against docker-registry (with and
    without credentials): the package and, after a signed build, its signature and
    provenance as referrers.  The test registry has no TLS, so the cloacinactl on PATH
    adds --plain-http to what the step runs."""
    from .registry import AUTH_PASSWORD, AUTH_USER

    registry = request.getfixturevalue("auth_registry" if with_auth else "registry")
    project = create_project("ci-demo", path=tmp_path / "ci-demo")
    keys = tmp_path / "keys"
    subprocess.run([EXE, "key", "generate", "ci-demo-ci", "--out", keys], check=True,
                   capture_output=True)
    wrapper = tmp_path / "bin"
    wrapper.mkdir()
    (wrapper / "cloacinactl").write_text(f'#!/bin/sh\nexec "{EXE}" "$@" --plain-http\n')
    (wrapper / "cloacinactl").chmod(0o755)
    namespace = f"ci/{registry.repo(request).split('/')[-1]}"
    env = actions_env(tmp_path, CLOACINA_SIGNING_KEY=(keys / "ci-demo-ci.key").read_text(),
                      CLOACINA_REGISTRY=f"{registry.host}/{namespace}",
                      CLOACINA_REPOSITORY="ci-demo")
    for step_id in ("package", "sign"):
        proc = run_step(project, step_id, env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    if with_auth:
        env.update(CLOACINA_REGISTRY_USERNAME=AUTH_USER, CLOACINA_REGISTRY_PASSWORD=AUTH_PASSWORD)
    env["PATH"] = f"{wrapper}{os.pathsep}{env['PATH']}"
    proc = run_step(project, "publish", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ref = f"oci://{registry.host}/{namespace}/ci-demo:0.1.0"
    assert f"pushed dist/ci-demo-0.1.0.cloacina to {ref}" in proc.stdout
    # the signature is embedded (in the package); the provenance goes beside it
    assert proc.stdout.count("  referrer ") == 1
    assert "referrer dist/ci-demo-0.1.0.cloacina.intoto.jsonl: provenance sha256:" \
        in proc.stdout
    status, _, body = registry.get(f"/v2/{namespace}/ci-demo/tags/list")
    assert status == 200 and "0.1.0" in body.decode()
    if with_auth:  # without the secrets the same push is refused
        env.pop("CLOACINA_REGISTRY_USERNAME")
        env.pop("CLOACINA_REGISTRY_PASSWORD")
        proc = run_step(project, "publish", {**env, "DOCKER_CONFIG": str(tmp_path / "none")})
        assert proc.returncode == 2 and "error: " in proc.stderr
