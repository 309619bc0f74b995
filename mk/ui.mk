# mk/ui.mk - make screenshot: docs/ui.png, the lesson page's decoded-token step (issue 13).
# The Makefile includes this file; scripts/ui-screenshot.py does the work:
# it starts the release latch with LATCH_UI=1 on a random loopback port with a
# throwaway data dir, lets Chromium (tests/integration/js/ui_flow.mjs) register
# and log in, saves step 2 of the page, and stops everything.  Not part of
# `make test`: the PNG is committed and shown in the README.
#
#   make screenshot                      writes docs/ui.png
#   make screenshot UI_SCREENSHOT=x.png  writes x.png instead

# Read before the Makefile's first target: keep 'all' the default goal.
ui_saved_default_goal := $(.DEFAULT_GOAL)

UI_SCREENSHOT ?= docs/ui.png

.PHONY: screenshot

screenshot: test-deps $(BUILD)/release/latch
	@LATCH_BIN=$(BUILD)/release/latch /usr/bin/python3 scripts/ui-screenshot.py $(UI_SCREENSHOT)

.DEFAULT_GOAL := $(ui_saved_default_goal)
