"""Path zones, protected paths, secrets and symlink races — on a real file system."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from mnemocode.safety.paths import PathPolicy


@dataclass
class Tree:
    root: Path
    work: Path
    home: Path
    mnemo: Path
    outside: Path
    extra: Path

    def policy(self, *, workdir: Path | None = None) -> PathPolicy:
        return PathPolicy(
            workdir=workdir or self.work,
            home=self.home,
            mnemo_home=self.mnemo,
            extra_allowed=[self.extra],
        )


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    root = tmp_path.resolve()
    dirs = Tree(
        root, root / "work", root / "home", root / "mnemo", root / "outside", root / "extra"
    )
    for path in (dirs.work, dirs.home, dirs.mnemo, dirs.outside, dirs.extra):
        path.mkdir()
    (dirs.work / "src").mkdir()
    (dirs.work / "src" / "app.py").write_text("print('hi')\n")
    (dirs.outside / "notes.txt").write_text("outside\n")
    return dirs


# ---- zones -------------------------------------------------------------------------


def test_zones_for_reads_and_writes(tree: Tree) -> None:
    policy = tree.policy()
    inside = policy.check("src/app.py", write=True)
    assert (inside.action, inside.zone, inside.resolved) == (
        "allow",
        "workdir",
        tree.work / "src" / "app.py",
    )
    assert policy.check(tree.work / "new" / "file.txt", write=True).action == "allow"
    out_read = policy.check(tree.outside / "notes.txt", write=False)
    assert (out_read.action, out_read.zone) == ("allow", "outside")
    out_write = policy.check(tree.outside / "notes.txt", write=True)
    assert (out_write.action, out_write.zone, out_write.rule) == (
        "ask",
        "outside",
        "path:write-outside",
    )
    assert "outside the work directory" in out_write.reason


def test_a_sibling_sharing_a_roots_name_prefix_is_not_under_it(tree: Tree) -> None:
    policy = tree.policy()
    assert policy.check(tree.home / ".ssh" / "config", write=False).zone == "secret"
    assert policy.check(tree.home / ".ssh-notes" / "todo.txt", write=False).zone == "outside"
    assert policy.check(tree.root / "work2" / "a.txt", write=True).zone == "outside"
    assert policy.check(tree.work, write=False).zone == "workdir"
    assert policy.check(tree.root / "mnemo-old" / "x", write=True).rule == "path:write-outside"
    assert policy.check(tree.mnemo / "x", write=True).rule == "path:protected"


def test_extra_allowed_paths(tree: Tree) -> None:
    verdict = tree.policy().check(tree.extra / "cache" / "x.bin", write=True)
    assert (verdict.action, verdict.zone) == ("allow", "allowed")
    # An extra allowed path given through a symlink counts by its real location.
    link = tree.root / "extra-link"
    link.symlink_to(tree.extra)
    policy = PathPolicy(
        workdir=tree.work, home=tree.home, mnemo_home=tree.mnemo, extra_allowed=[link]
    )
    assert policy.check(tree.extra / "y", write=True).zone == "allowed"
    assert policy.check(link / "y", write=True).zone == "allowed"
    assert policy.check(tree.outside / "y", write=True).zone == "outside"


def test_relative_paths_use_cwd_and_tilde_uses_the_given_home(tree: Tree) -> None:
    policy = tree.policy()
    verdict = policy.check("app.py", write=True, cwd=Path("src"))
    assert verdict.resolved == tree.work / "src" / "app.py"
    verdict = policy.check("x.txt", write=True, cwd=tree.outside)
    assert (verdict.resolved, verdict.zone) == (tree.outside / "x.txt", "outside")
    verdict = policy.check("~/notes.md", write=True)
    assert verdict.resolved == tree.home / "notes.md" and verdict.zone == "outside"


@pytest.mark.parametrize(
    ("raw", "zone"),
    [
        ("../outside/notes.txt", "outside"),
        ("src/../../outside/notes.txt", "outside"),
        ("src/../../work/src/app.py", "workdir"),
        ("does/not/exist/../../../../outside/x", "outside"),
        ("./././src/./app.py", "workdir"),
        ("../../../../../../../../etc/passwd", "outside"),
    ],
)
def test_dot_dot_escapes(tree: Tree, raw: str, zone: str) -> None:
    verdict = tree.policy().check(raw, write=True)
    assert verdict.zone == zone
    assert verdict.action == ("allow" if zone == "workdir" else "ask")


def test_a_symlink_out_of_the_workdir_is_outside(tree: Tree) -> None:
    (tree.work / "etc").symlink_to("/etc")
    (tree.work / "out").symlink_to(tree.outside)
    (tree.work / "dangling").symlink_to(tree.outside / "not-yet.txt")
    policy = tree.policy()
    verdict = policy.check("etc/hosts", write=True)
    assert (verdict.action, verdict.zone, verdict.resolved) == (
        "ask",
        "outside",
        Path("/etc/hosts"),
    )
    assert policy.check("out/new/deeper.txt", write=True).zone == "outside"
    dangling = policy.check("dangling", write=True)
    assert (dangling.zone, dangling.resolved) == ("outside", tree.outside / "not-yet.txt")


def test_dot_dot_after_a_symlink_follows_the_link_first(tree: Tree) -> None:
    (tree.outside / "a" / "b").mkdir(parents=True)
    (tree.work / "deep").symlink_to(tree.outside / "a" / "b")
    # Lexically this is work/x; the kernel goes to outside/a/x.
    verdict = tree.policy().check("deep/../x", write=True)
    assert (verdict.zone, verdict.resolved) == ("outside", tree.outside / "a" / "x")
    assert tree.policy().recheck(verdict).rule != "path:target-changed"


def test_workdir_given_through_a_symlink(tree: Tree) -> None:
    link = tree.root / "work-link"
    link.symlink_to(tree.work)
    policy = tree.policy(workdir=link)
    assert policy.workdir == tree.work
    assert policy.check(link / "src" / "app.py", write=True).zone == "workdir"
    assert policy.check("src/app.py", write=True).zone == "workdir"


def test_a_nul_byte_is_denied(tree: Tree) -> None:
    verdict = tree.policy().check("src/a\x00b", write=False)
    assert (verdict.action, verdict.rule) == ("deny", "path:invalid")


# ---- symlink races -----------------------------------------------------------------


def test_recheck_sees_a_link_created_after_the_check(tree: Tree) -> None:
    policy = tree.policy()
    verdict = policy.check("report.txt", write=True)
    assert (verdict.action, verdict.zone) == ("allow", "workdir")
    assert policy.recheck(verdict) == verdict  # nothing changed: same answer
    (tree.work / "report.txt").symlink_to(tree.outside / "notes.txt")
    again = policy.recheck(verdict)
    assert (again.action, again.zone, again.rule) == ("ask", "outside", "path:target-changed")
    assert again.resolved == tree.outside / "notes.txt"
    assert str(tree.outside / "notes.txt") in again.reason


def test_recheck_sees_a_parent_directory_swapped_for_a_link(tree: Tree) -> None:
    policy = tree.policy()
    (tree.work / "build").mkdir()
    verdict = policy.check("build/out/result.txt", write=True)
    assert verdict.action == "allow"
    (tree.work / "build").rename(tree.root / "old-build")
    (tree.work / "build").symlink_to(tree.outside)
    again = policy.recheck(verdict)
    assert (again.action, again.zone) == ("ask", "outside")
    assert again.resolved == tree.outside / "out" / "result.txt"


def test_recheck_never_silently_allows_a_new_target_inside(tree: Tree) -> None:
    policy = tree.policy()
    verdict = policy.check("a.txt", write=True)
    (tree.work / "a.txt").symlink_to(tree.work / "src" / "app.py")
    again = policy.recheck(verdict)
    assert (again.action, again.zone, again.rule) == ("ask", "workdir", "path:target-changed")


def test_recheck_sees_a_link_redirected_to_a_protected_file(tree: Tree) -> None:
    policy = tree.policy()
    (tree.work / "cfg").symlink_to(tree.work / "src" / "app.py")
    verdict = policy.check("cfg", write=True)
    assert verdict.action == "allow"
    (tree.work / "cfg").unlink()
    (tree.work / "cfg").symlink_to(tree.home / ".bashrc")
    again = policy.recheck(verdict)
    assert (again.action, again.zone) == ("ask", "protected")


def test_a_hard_link_to_a_file_outside_asks_before_a_write(tree: Tree) -> None:
    os.link(tree.outside / "notes.txt", tree.work / "notes.txt")
    policy = tree.policy()
    write = policy.check("notes.txt", write=True)
    assert (write.action, write.rule, write.zone) == ("ask", "path:hardlink", "outside")
    assert policy.check("notes.txt", write=False).action == "allow"


# ---- protected paths ---------------------------------------------------------------

PROTECTED = [
    "home/.bashrc",
    "home/.bash_profile",
    "home/.profile",
    "home/.zshrc",
    "home/.zprofile",
    "home/.inputrc",
    "home/.config/fish/config.fish",
    "home/.ssh/authorized_keys",
    "home/.ssh/id_ed25519.pub",
    "home/.gitconfig",
    "mnemo/config.toml",
    "mnemo/rules.toml",
    "mnemo/tools/mytool.py",
    "mnemo/projects/p/audit.jsonl",
    "work/.git/hooks/pre-commit",
    "work/.git/config",
    "work/vendor/lib/.git/config",
    "work/.git/modules/sub/hooks/post-checkout",
    "work/.mnemo/config.toml",
    "work/.mnemo/skills/x/SKILL.md",
    "work/mnemo.toml",
    "work/.mcp.json",
    "work/.git/commondir",
    "work/.git/info/attributes",
    "work/.git/worktrees/w/gitdir",
    "work/sub/.git",
    "work/.claude/settings.json",
    "work/.codex/config.toml",
]


@pytest.mark.parametrize("rel", PROTECTED)
def test_protected_paths_ask_for_writes_and_read_freely(tree: Tree, rel: str) -> None:
    policy = tree.policy()
    write = policy.check(tree.root / rel, write=True)
    assert (write.action, write.zone, write.rule) == ("ask", "protected", "path:protected")
    assert "protected" in write.reason
    read = policy.check(tree.root / rel, write=False)
    if rel in ("home/.ssh/authorized_keys", "home/.gitconfig"):  # also secrets: reading asks
        assert (read.action, read.zone) == ("ask", "secret")
    else:
        assert (read.action, read.zone) == ("allow", "protected")


@pytest.mark.parametrize(
    "rel",
    ["work/.git/HEAD", "work/.git/objects/ab/cdef", "work/git/hooks.py", "work/config"],
)
def test_ordinary_files_next_to_protected_ones(tree: Tree, rel: str) -> None:
    assert tree.policy().check(tree.root / rel, write=True).action == "allow"


def test_protected_even_inside_the_workdir(tree: Tree) -> None:
    policy = tree.policy(workdir=tree.home)  # mnemo started in the home directory
    assert policy.check(".bashrc", write=True).zone == "protected"
    assert policy.check("project/file.py", write=True).action == "allow"


def test_protected_through_symlinks_either_way(tree: Tree) -> None:
    (tree.work / ".git" / "hooks").mkdir(parents=True)
    (tree.work / "hooks").symlink_to(tree.work / ".git" / "hooks")
    (tree.work / "harmless.txt").symlink_to(tree.home / ".zshrc")
    mnemo_link = tree.root / "mnemo-link"
    mnemo_link.symlink_to(tree.mnemo)
    policy = PathPolicy(workdir=tree.work, home=tree.home, mnemo_home=mnemo_link)
    assert policy.check("hooks/pre-push", write=True).zone == "protected"
    assert policy.check("harmless.txt", write=True).zone == "protected"
    assert policy.check(tree.mnemo / "config.toml", write=True).zone == "protected"
    assert policy.check(mnemo_link / "config.toml", write=True).zone == "protected"


# ---- secrets -----------------------------------------------------------------------

SECRETS = [
    "work/.env",
    "work/.env.local",
    "work/.env.production",
    "work/.envrc",
    "work/config/server.pem",
    "work/certs/tls.key",
    "work/keys/id_rsa",
    "work/keys/id_ed25519",
    "work/deploy_key/id_deploy",
    "work/.netrc",
    "work/.pypirc",
    "home/.aws/credentials",
    "home/.aws/config",
    "home/.config/gcloud/application_default_credentials.json",
    "home/.azure/accessTokens.json",
    "home/.kube/config",
    "home/.docker/config.json",
    "home/.git-credentials",
    "home/.npmrc",
    "home/.pypirc",
    "home/.netrc",
    "home/.ssh/id_rsa",
    "home/.ssh/config",
    "home/.docker/daemon.json",
    "home/.bash_history",
    "home/.zsh_history",
    "home/.python_history",
    "home/.psql_history",
    "home/.mysql_history",
    "home/.lesshst",
    "home/.node_repl_history",
    "home/.local/share/fish/fish_history",
    "home/.gitconfig",
    "home/.config/git/config",
    "home/.pip/pip.conf",
    "home/.config/pip/pip.conf",
    "home/.config/gh/hosts.yml",
]


@pytest.mark.parametrize("rel", SECRETS)
def test_reading_secrets_asks(tree: Tree, rel: str) -> None:
    verdict = tree.policy().check(tree.root / rel, write=False)
    assert (verdict.action, verdict.zone, verdict.rule) == ("ask", "secret", "path:secret-read")
    assert "credentials" in verdict.reason


@pytest.mark.parametrize(
    "rel",
    [
        "work/.env.example",
        "work/.env.sample",
        "work/.env.template",
        "work/.env.local.example",
        "work/environment.yml",
        "work/.envoy.yaml",
        "work/src/id_utils.py",
        "work/keys/id_rsa.pub",
        "work/src/keys.py",
        "home/.config/other/settings.json",
        "home/.config/pip/other.conf",
        "work/src/proc/self/environ.py",
    ],
)
def test_look_alikes_are_not_secrets(tree: Tree, rel: str) -> None:
    assert tree.policy().check(tree.root / rel, write=False).action == "allow"


def test_a_link_to_a_secret_is_a_secret_and_so_is_a_secret_named_link(tree: Tree) -> None:
    (tree.home / ".aws").mkdir()
    (tree.home / ".aws" / "credentials").write_text("[default]\n")
    (tree.work / "notes.txt").symlink_to(tree.home / ".aws" / "credentials")
    (tree.work / "plain.txt").write_text("x")
    (tree.work / ".env").symlink_to(tree.work / "plain.txt")
    policy = tree.policy()
    assert policy.check("notes.txt", write=False).zone == "secret"
    assert policy.check(".env", write=False).zone == "secret"
    assert policy.check("plain.txt", write=False).action == "allow"


def test_writing_a_secret_asks_even_in_the_workdir(tree: Tree) -> None:
    verdict = tree.policy().check(".env", write=True)
    assert (verdict.action, verdict.zone, verdict.rule) == ("ask", "secret", "path:secret-write")


def test_process_environment_is_a_secret(tree: Tree) -> None:
    verdict = tree.policy().check("/proc/self/environ", write=False)
    assert (verdict.action, verdict.zone) == ("ask", "secret")


@pytest.mark.parametrize(
    "raw",
    [
        "/proc/1234/environ",
        "/proc/self/task/77/environ",
        "/proc/thread-self/environ",
        "/proc/self/root/home/user/.aws/credentials",
        "/proc/self/cwd/../notes.txt",
        "/proc/self/cwd",
        "/proc/self/task/5/root/etc/hostname",
    ],
)
def test_proc_environ_and_root_or_cwd_indirection_are_secrets(tree: Tree, raw: str) -> None:
    assert tree.policy().check(raw, write=False).zone == "secret"


def test_proc_files_that_hold_no_secret_read_freely(tree: Tree) -> None:
    assert tree.policy().check("/proc/cpuinfo", write=False).action == "allow"
    assert tree.policy().check("/proc/self/status", write=False).action == "allow"


@pytest.mark.parametrize("raw", ["~", str(Path("~").expanduser().root), "/"])
def test_a_folder_above_credential_stores_asks_to_be_searched(tree: Tree, raw: str) -> None:
    verdict = tree.policy().check(raw, write=False)
    assert (verdict.action, verdict.rule, verdict.zone) == ("ask", "path:secret-tree", "secret")
    assert "credential" in verdict.reason


def test_the_work_directory_is_not_above_credential_stores(tree: Tree) -> None:
    assert tree.policy().check(".", write=False).action == "allow"


def test_exported_lists_name_what_the_sandbox_hides_and_mounts_read_only(tree: Tree) -> None:
    from mnemocode.safety.paths import SECRET_HOME_PATHS, WORKDIR_PROTECTED

    policy = tree.policy()
    for rel in SECRET_HOME_PATHS:
        assert policy.check(tree.home / rel / "x", write=False).zone == "secret", rel
    for rel in WORKDIR_PROTECTED:
        assert policy.check(tree.work / rel, write=True).zone == "protected", rel
    assert {".ssh", ".aws", ".docker", ".netrc", ".config/gh"} <= set(SECRET_HOME_PATHS)
