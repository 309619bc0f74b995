"""Which shared libraries a running server has mapped (src/util/dynlib.h).

libpq and libcurl are not linked into the binary: latch opens libpq only when
its store is PostgreSQL, and libcurl only when mail is configured, so a
default server carries neither them nor what they pull in (LDAP, GnuTLS,
p11-kit, Kerberos, SSH).  Read from the process's own /proc/<pid>/maps.
"""

import os
import re

import harness
from harness import LatchTestCase, free_port

# What libpq and libcurl bring with them on Debian 12, and nothing else does.
PULLED_IN = ("libldap", "libgnutls", "libp11-kit", "libkrb5", "libssh2", "librtmp")


def mapped_libraries(server):
    with open("/proc/%d/maps" % server.proc.pid) as f:
        names = set()
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if ".so" in path:
                names.add(os.path.basename(path))
        return names


def has(names, prefix):
    return any(re.match(re.escape(prefix) + r"[.-]", n) for n in names)


class Libraries(LatchTestCase):
    def test_backend_and_no_mail_load_only_what_they_need(self):
        with harness.LatchServer() as srv:
            self.assertEqual(srv.get("/healthz").status_code, 200)
            names = mapped_libraries(srv)
            self.assertTrue(has(names, "libsqlite3"), sorted(names))
            self.assertFalse(has(names, "libcurl"), sorted(names))
            if harness.backend.POSTGRES:
                self.assertTrue(has(names, "libpq"), sorted(names))
            else:
                self.assertFalse(has(names, "libpq"), sorted(names))
                for lib in PULLED_IN:
                    self.assertFalse(has(names, lib), "%s in %s" % (lib, sorted(names)))

    def test_mail_configured_opens_libcurl(self):
        # Nothing listens on the port: the server only has to start with
        # mail configured, and then holds libcurl.
        env = {"LATCH_SMTP_URL": "smtp://127.0.0.1:%d" % free_port(),
               "LATCH_MAIL_FROM": "no-reply@latch.test"}
        with harness.LatchServer(env=env) as srv:
            self.assertEqual(srv.get("/healthz").status_code, 200)
            names = mapped_libraries(srv)
            self.assertTrue(has(names, "libcurl"), sorted(names))
            self.assertEqual(has(names, "libpq"), harness.backend.POSTGRES, sorted(names))
