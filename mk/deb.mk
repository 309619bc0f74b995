# mk/deb.mk - make deb: a Debian package of the release build (issue 12).
# The Makefile includes this file; scripts/build-deb.sh does the work.
#
#   make deb         $(BUILD)/deb/latch_<version>_<arch>.deb
#   make deb-lint    the same, then lintian on it (errors fail)
#
# Installs: /usr/bin/latch, /lib/systemd/system/latch.service,
# /etc/latch/latch.env (conffile, 0600), /usr/share/doc/latch/; postinst
# creates the latch system user and /var/lib/latch (0700); a purge removes
# both.  tests/integration/test_deb.py builds, checks, installs and purges it.

# Read before the Makefile's first target: keep 'all' the default goal.
deb_saved_default_goal := $(.DEFAULT_GOAL)

DEB_DIR  = $(BUILD)/deb
DEB_FILE = $(DEB_DIR)/latch_$(VERSION)_$(shell dpkg --print-architecture 2>/dev/null).deb

.PHONY: deb deb-lint deb-deps

deb-deps:
	@scripts/deps.sh deb

deb: deb-deps $(BUILD)/release/latch
	@scripts/build-deb.sh $(BUILD)/release/latch $(DEB_DIR) $(VERSION)

deb-lint: deb
	lintian --fail-on error $(DEB_FILE)

.DEFAULT_GOAL := $(deb_saved_default_goal)
