#!/usr/bin/env python3
"""Failure modes of the shell scripts CI and the image test lean on, run for real with a stand-in
debootstrap in PATH (the real one needs the mirror and minutes): scripts/debian-rootfs.sh."""
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Makes the few files debian-rootfs.sh edits, plus a payload big enough that writing the tarball
# takes a while; both runs meet at a barrier first, so their tarballs are written at once.
FAKE_DEBOOTSTRAP = r"""#!/bin/sh
set -e
target=$3
mkdir -p "$target/etc/apt/sources.list.d" "$target/var/lib/apt/lists" \
  "$target/var/cache/apt/archives"
: >"$target/etc/apt/sources.list"
echo "$$" >"$target/made-by"
head -c 64000000 /dev/zero >"$target/payload"
touch "$BARRIER/$$"
i=0
while [ "$(ls "$BARRIER" | wc -l)" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
"""


class DebianRootfs(unittest.TestCase):
    def test_two_runs_at_once_each_get_a_whole_tarball(self):
        # Two CI steps (or a developer's in-debian.sh beside test-image.sh) making the same
        # suite's rootfs at once both wrote SUITE-rootfs.tar.partial: the tarballs interleaved,
        # the first rename published a file the second was still writing, and the second run
        # failed (or one's exit trap deleted the other's partial file).
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            bin_dir = tmp / "bin"
            bin_dir.mkdir()
            fake = bin_dir / "debootstrap"
            fake.write_text(FAKE_DEBOOTSTRAP)
            fake.chmod(0o755)
            (tmp / "barrier").mkdir()
            env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}",
                       RENDERER_ROOTFS_CACHE=str(tmp / "cache"), BARRIER=str(tmp / "barrier"))
            script = str(ROOT / "scripts" / "debian-rootfs.sh")
            runs = [subprocess.Popen([script, "trixie"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for _ in range(2)]
            results = [r.communicate(timeout=120) + (r.returncode,) for r in runs]
            tarball = tmp / "cache" / "trixie-rootfs.tar"
            for out, err, code in results:
                self.assertEqual(code, 0, err)
                self.assertEqual(out.strip(), str(tarball))
            with tarfile.open(tarball) as t:
                names = {m.name for m in t.getmembers()}
                payload = t.getmember("./payload")
                self.assertEqual(payload.size, 64000000)
                self.assertIn("./etc/apt/sources.list.d/debian.sources", names)
                self.assertNotIn("./etc/apt/sources.list", names)
            leftovers = sorted(p.name for p in (tmp / "cache").iterdir() if p != tarball)
            self.assertEqual(leftovers, [], "nothing but the tarball stays in the cache")


class ImageLabels(unittest.TestCase):
    def public_url(self, url):
        # test-image.sh's own function, run alone.
        body = subprocess.run(["sed", "-n", "/^public_url() {/,/^}/p",
                               str(ROOT / "infra" / "test-image.sh")],
                              check=True, capture_output=True, text=True).stdout
        self.assertIn("public_url()", body, "infra/test-image.sh defines public_url")
        return subprocess.run(["bash", "-c", body + '\npublic_url "$1"', "bash", url],
                              check=True, capture_output=True, text=True).stdout.strip()

    def test_the_source_label_never_carries_the_remotes_credentials(self):
        # org.opencontainers.image.source came from `git config remote.origin.url` as it was; a CI
        # checkout's remote often carries a token (https://ci-token:SECRET@host/...), and image
        # labels are readable by anyone who can pull the image.
        for url, expected in [
            ("https://ci-token:s3cr3t@git.example.com/team/renderer.git",
             "https://git.example.com/team/renderer.git"),
            ("https://s3cr3t@git.example.com/team/renderer.git",
             "https://git.example.com/team/renderer.git"),
            ("ssh://git@git.example.com:2222/team/renderer.git",
             "ssh://git.example.com:2222/team/renderer.git"),
            ("https://git.example.com/team/renderer.git",
             "https://git.example.com/team/renderer.git"),
            ("unknown", "unknown"),
        ]:
            self.assertEqual(self.public_url(url), expected, url)

if __name__ == "__main__":
    # Printed as GoogleTest prints, so the suite summary counts these too.
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from manifests_test import GTestStyleResult

    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(stream=open("/dev/null", "w"), resultclass=GTestStyleResult)
    result = runner.run(suite)
    print(f"[==========] {result.testsRun} tests ran; "
          f"{len(result.failures) + len(result.errors)} failed", flush=True)
    sys.exit(0 if result.wasSuccessful() else 1)
