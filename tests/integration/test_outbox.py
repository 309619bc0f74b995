"""The mail outbox (issue 11): a 2xx means the mail is queued durably.

  - SMTP down, a mail requested, latch restarted, SMTP up: the mail arrives,
    exactly once;
  - bodies are sealed at rest: neither the token nor the link is in the
    store in clear;
  - without LATCH_SMTP_URL mails wait, start-up warns, and `latch mail list`
    prints them (the link works);
  - /metrics counts queued, sent and failed attempts and the oldest pending
    mail's age (promtool checks the format in test_metrics_ops);
  - SQLite mode: the master key is made in the data dir while nothing is
    sealed, and a missing or wrong key stops start-up once sealed rows
    exist, saying which.

Also measures the delivery latency (201 to the mail in the sink)."""

import os
import re
import statistics
import sys
import time

import backend
import harness
import mailsink

PASSWORD = "correct horse battery"


def metric(srv, name):
    text = srv.get("/metrics").text
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def wait_for(cond, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("%s not met within %ss" % (what, timeout))


class Durability(harness.LatchTestCase):
    def test_smtp_down_restart_smtp_up_delivers_exactly_once(self):
        port = harness.free_port()
        env = {"LATCH_SMTP_URL": "smtp://127.0.0.1:%d" % port,
               "LATCH_MAIL_FROM": mailsink.MAIL_FROM}
        srv = harness.LatchServer(env=env).start()
        try:
            email = harness.unique_email("durable")
            self.assertEqual(srv.register(email, PASSWORD).status_code, 201)
            wait_for(lambda: (metric(srv, "latch_mail_failed_attempts_total") or 0) >= 1,
                     what="a failed attempt")
            self.assertEqual(metric(srv, "latch_mail_queued_total"), 1)
            self.assertGreaterEqual(metric(srv, "latch_mail_pending"), 1)
            srv.restart()
            with mailsink.MailSink(starttls=False, port=port) as sink:
                msgs = sink.wait(1, to=email, timeout=30)
                token = mailsink.token_of(msgs[0])
                harness.note_secret("verification token", token)
                time.sleep(2.5)   # room for a duplicate to show up
                self.assertEqual(len(sink.received), 1, "delivered more than once")
            wait_for(lambda: harness.store_query(srv, "SELECT count(*) FROM outbox")[0][0] == 0,
                     what="the outbox to empty")
            self.assertEqual(metric(srv, "latch_mail_sent_total"), 1)
            self.assertEqual(srv.post_json("/email/verify", {"token": token}).status_code, 204)
        finally:
            srv.close()

    def test_delivery_latency(self):
        with mailsink.MailSink(starttls=True) as sink:
            srv = harness.LatchServer(env=sink.env()).start()
            try:
                times = []
                for i in range(10):
                    email = harness.unique_email("latency")
                    t0 = time.monotonic()
                    self.assertEqual(srv.register(email, PASSWORD).status_code, 201)
                    sink.wait(1, to=email, timeout=15)
                    times.append(time.monotonic() - t0)
                print("\nmail delivery latency (register 201 -> mail in the sink, STARTTLS): "
                      "median %.1f ms, max %.1f ms" % (statistics.median(times) * 1000,
                                                       max(times) * 1000), file=sys.stderr)
                self.assertLess(statistics.median(times), 2.0 * harness.TIME_SCALE)
            finally:
                srv.close()


class WithoutSmtp(harness.LatchTestCase):
    def test_mails_wait_sealed_and_mail_list_shows_them(self):
        srv = harness.LatchServer().start()
        try:
            self.assertIn("LATCH_SMTP_URL is not set", srv.log_text())
            email = harness.unique_email("local")
            self.assertEqual(srv.register(email, PASSWORD).status_code, 201)
            out = harness.run_latch(["mail", "list", "--data-dir", srv.data_dir])
            self.assertEqual(out.returncode, 0, out.stderr)
            m = re.search(r"/verify-email#token=([A-Za-z0-9_-]{43})", out.stdout)
            self.assertIsNotNone(m, out.stdout)
            token = m.group(1)
            harness.note_secret("verification token", token)
            self.assertIn("To:       " + email, out.stdout)
            # At rest: neither the token nor the link in clear.
            rows = harness.store_query(srv, "SELECT id, recipient, sealed FROM outbox")
            self.assertEqual(len(rows), 1)
            sealed = bytes(rows[0][2])
            self.assertNotIn(token.encode(), sealed)
            self.assertNotIn(b"token=", sealed)
            self.assertNotIn(b"verify-email", sealed)
            # Digests only for the token itself.
            digests = harness.store_query(srv, "SELECT digest FROM email_tokens")
            self.assertTrue(all(token.encode() not in bytes(d[0]) for d in digests))
            self.assertGreaterEqual(metric(srv, "latch_mail_oldest_pending_age_seconds"), 0)
            self.assertEqual(srv.post_json("/email/verify", {"token": token}).status_code, 204)
            # An expired mail is dropped unsent.
            self.assertEqual(srv.register(harness.unique_email("late"), PASSWORD).status_code,
                             201)
            harness.store_query(srv, "UPDATE outbox SET expires_at = 1", write=True)
            wait_for(lambda: harness.store_query(srv, "SELECT count(*) FROM outbox")[0][0] == 0,
                     what="the expired mail to go")
            self.assertGreaterEqual(metric(srv, "latch_mail_expired_total"), 1)
        finally:
            srv.close()


class MasterKey(harness.LatchTestCase):
    def setUp(self):
        backend.skip_unless_sqlite(self, "the SQLite data dir's master-key file")

    def test_made_while_nothing_is_sealed_then_required(self):
        srv = harness.LatchServer().start()
        key_path = os.path.join(srv.data_dir, "master-key")
        try:
            self.assertTrue(os.path.exists(key_path))
            self.assertEqual(os.stat(key_path).st_mode & 0o777, 0o600)
            self.assertEqual(os.path.getsize(key_path), 32)
            harness.note_key_file("master key", key_path)
            self.assertEqual(srv.register(harness.unique_email("seal"), PASSWORD).status_code,
                             201)
            srv.stop()
            with open(key_path, "rb") as f:
                good = f.read()
            os.unlink(key_path)
            with self.assertRaises(harness.StartupError) as missing:
                srv.start()
            self.assertIn("master key %s is missing" % key_path, str(missing.exception))
            self.assertFalse(os.path.exists(key_path), "a new key was made over sealed rows")
            with open(key_path, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(key_path, 0o600)
            with self.assertRaises(harness.StartupError) as wrong:
                srv.start()
            self.assertIn("is not the key", str(wrong.exception))
            with open(key_path, "wb") as f:
                f.write(good)
            srv.start()
        finally:
            srv.close()
