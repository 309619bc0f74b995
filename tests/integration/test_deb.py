"""The Debian package (issue 12): `make deb` builds latch_<version>_<arch>.deb;
its contents are root:root with the right modes; lintian reports no error;
`dpkg -i` creates the latch system user and /var/lib/latch (latch:latch,
0700) and /usr/bin/latch runs; `dpkg --purge` removes the user and the data.

Installing touches the machine, so this runs as root only (CI is root) and
always purges in the end, also when a check failed; a latch package left
installed by an aborted run is purged first.
"""

import os
import pwd
import re
import shutil
import subprocess
import unittest

import harness

REPO = harness.REPO_ROOT
BUILD = os.environ.get("BUILD", "build")
DEB = None
SKIP = None


def run(argv, timeout=600, check=True, **kwargs):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, cwd=REPO, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited with %s:\n%s" % (" ".join(argv), proc.returncode,
                                                         proc.stdout[-3000:]))
    return proc


def installed():
    proc = run(["dpkg-query", "-W", "-f=${Status}", "latch"], check=False)
    return proc.returncode == 0 and "installed" in proc.stdout and "not-installed" not in proc.stdout


def purge():
    if run(["dpkg-query", "-W", "latch"], check=False).returncode == 0:
        run(["dpkg", "--purge", "latch"], check=False)


def setUpModule():
    global DEB, SKIP
    if os.geteuid() != 0:
        SKIP = "installs a package: needs root (CI runs as root)"
        return
    missing = [t for t in ("dpkg-deb", "dpkg-shlibdeps", "lintian") if shutil.which(t) is None]
    if missing:
        raise AssertionError("missing %s: make test-deps installs dpkg-dev and lintian"
                             % ", ".join(missing))
    out = run(["make", "-s", "deb", "BUILD=" + BUILD]).stdout.strip().splitlines()
    DEB = os.path.join(REPO, out[-1]) if not os.path.isabs(out[-1]) else out[-1]
    if not os.path.isfile(DEB):
        raise AssertionError("make deb did not name a package: %r" % out)
    purge()      # a package left by an aborted run


def tearDownModule():
    if SKIP is None:
        purge()


class DebianPackage(harness.LatchTestCase):

    def setUp(self):
        if SKIP is not None:
            raise unittest.SkipTest(SKIP)

    def test_name_and_control(self):
        version = run([harness.LATCH_BIN, "--version"]).stdout.split()[1]
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        self.assertEqual(os.path.basename(DEB), "latch_%s_%s.deb" % (version, arch))
        info = run(["dpkg-deb", "--field", DEB]).stdout
        depends = re.search(r"^Depends: (.*)$", info, re.M).group(1)
        for lib in ("adduser", "libc6", "libssl3", "libsodium23", "libjansson4",
                    "libsqlite3-0", "libpq5", "libcurl4"):
            self.assertRegex(depends, r"(^|, )%s( |,|$)" % re.escape(lib), depends)
        # latch serves HTTP itself since issue 14: no libmicrohttpd.
        self.assertNotIn("libmicrohttpd", depends)
        # Every library the packaged binary needs comes from a package it
        # depends on (ldd finds the file, dpkg -S its package).
        packaged = os.path.join(os.path.dirname(DEB), "work", "root", "usr", "bin", "latch")
        needed = re.findall(r"NEEDED\s+(\S+)", run(["objdump", "-p", packaged]).stdout)
        self.assertIn("libssl.so.3", needed)
        self.assertNotIn("libmicrohttpd.so.12", needed)
        # libpq and libcurl are opened at run time (src/util/dynlib.h), not
        # linked, yet their packages are in Depends (checked above).
        self.assertNotIn("libpq.so.5", needed)
        self.assertNotIn("libcurl.so.4", needed)
        paths = dict(re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", packaged]).stdout, re.M))
        for lib in needed:
            owner = run(["dpkg", "-S", os.path.realpath(paths[lib])], check=False).stdout
            if owner.startswith("dpkg-query"):
                owner = run(["dpkg", "-S", paths[lib]]).stdout
            package = owner.split(":")[0]
            self.assertRegex(depends, r"(^|, )%s( |,|$)" % re.escape(package),
                             "%s (%s) is not in Depends: %s" % (lib, package, depends))

    def test_contents_root_owned_with_modes(self):
        listing = run(["dpkg-deb", "--contents", DEB]).stdout
        entries = {}
        for line in listing.splitlines():
            fields = line.split()
            mode, owner, path = fields[0], fields[1], fields[-1]
            self.assertEqual(owner, "root/root", line)
            entries[path] = mode
        self.assertEqual(entries["./usr/bin/latch"], "-rwxr-xr-x")
        self.assertEqual(entries["./etc/latch/latch.env"], "-rw-------")
        self.assertEqual(entries["./lib/systemd/system/latch.service"], "-rw-r--r--")
        self.assertEqual(entries["./usr/share/doc/latch/copyright"], "-rw-r--r--")
        self.assertEqual(entries["./usr/share/doc/latch/changelog.gz"], "-rw-r--r--")
        control = subprocess.run(["dpkg-deb", "--info", DEB, "conffiles"],
                                 stdout=subprocess.PIPE, text=True).stdout
        self.assertEqual(control.split(), ["/etc/latch/latch.env"])

    def test_service_unit(self):
        unit = subprocess.run(["dpkg-deb", "--fsys-tarfile", DEB], stdout=subprocess.PIPE,
                              check=True).stdout
        import io
        import tarfile
        with tarfile.open(fileobj=io.BytesIO(unit)) as tar:
            text = tar.extractfile("./lib/systemd/system/latch.service").read().decode()
            changelog = tar.extractfile("./usr/share/doc/latch/changelog.gz").read()
        self.assertIn("EnvironmentFile=/etc/latch/latch.env", text)
        self.assertIn("ExecStart=/usr/bin/latch serve --data-dir /var/lib/latch", text)
        self.assertIn("User=latch", text)
        import gzip
        first = gzip.decompress(changelog).decode().splitlines()[0]
        self.assertRegex(first, r"^latch \([0-9.]+\) unstable; urgency=medium$")

    def test_lintian_reports_no_error(self):
        proc = run(["lintian", "--fail-on", "error", DEB], check=False, timeout=300)
        errors = [l for l in proc.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], proc.stdout)
        self.assertEqual(proc.returncode, 0, proc.stdout)

    def test_install_run_purge(self):
        try:
            run(["dpkg", "-i", DEB])
            self.assertTrue(installed())
            user = pwd.getpwnam("latch")
            self.assertLess(user.pw_uid, 1000, "a system user")
            self.assertEqual(user.pw_dir, "/var/lib/latch")
            stat = run(["stat", "-c", "%U:%G %a", "/var/lib/latch"]).stdout.strip()
            self.assertEqual(stat, "latch:latch 700")
            env = run(["stat", "-c", "%U:%G %a", "/etc/latch/latch.env"]).stdout.strip()
            self.assertEqual(env, "root:root 600")
            version = run(["/usr/bin/latch", "--version"]).stdout.strip()
            self.assertRegex(version, r"^latch [0-9.]+ \(commit \S+\)$")
            # The packaged binary serves, as the latch user, on its data dir.
            usage = run(["/usr/bin/latch", "serve", "--help"]).stdout
            self.assertIn("--metrics-listen", usage)
            # Reinstalling keeps the user and an edited conffile.
            with open("/etc/latch/latch.env", "a") as f:
                f.write("LATCH_LOG_LEVEL=warn\n")
            run(["dpkg", "-i", "--force-confold", DEB])
            with open("/etc/latch/latch.env") as f:
                self.assertIn("LATCH_LOG_LEVEL=warn", f.read())
        finally:
            run(["dpkg", "--purge", "latch"], check=False)
        self.assertFalse(installed())
        with self.assertRaises(KeyError):
            pwd.getpwnam("latch")
        self.assertEqual(run(["getent", "group", "latch"], check=False).returncode, 2)
        self.assertFalse(os.path.exists("/var/lib/latch"))
        self.assertFalse(os.path.exists("/etc/latch"))
        self.assertFalse(os.path.exists("/usr/bin/latch"))
