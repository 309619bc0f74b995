# mk/tls.mk - make tls-audit: testssl.sh against a locally started latch (issue 5).
# The Makefile includes this file; scripts/tls-audit.sh does the work.
#
#   make tls-audit                          build the release latch, audit it
#   make tls-audit TLS_AUDIT_OUT=dir        keep testssl's JSON/log there
#   make tls-audit TLS_AUDIT_KEY=rsa        audit with an RSA 2048 certificate (default EC P-256)
#   make tls-audit TLS_AUDIT_ARGS='...'     more testssl options
#
# Installs Debian's testssl.sh (command `testssl`) when missing; fails on any
# finding rated MEDIUM, HIGH or CRITICAL (protocols, ciphers, vulnerabilities,
# ...), findings about the throwaway certificate's trust aside.

# Read before the Makefile's first target: keep 'all' the default goal.
tls_saved_default_goal := $(.DEFAULT_GOAL)

TLS_AUDIT_OUT  ?=
TLS_AUDIT_KEY  ?= ec
TLS_AUDIT_ARGS ?=

.PHONY: tls-audit

tls-audit: $(BUILD)/release/latch
	@TLS_AUDIT_KEY="$(TLS_AUDIT_KEY)" TLS_AUDIT_ARGS="$(TLS_AUDIT_ARGS)" \
	    scripts/tls-audit.sh $(BUILD)/release/latch $(TLS_AUDIT_OUT)

.DEFAULT_GOAL := $(tls_saved_default_goal)
