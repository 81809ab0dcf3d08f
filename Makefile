# qm: build, install and package.
#
#   make                      build dist/ (qmctl, qm-controller, qm-bluechi-gate, qm-probe, man pages, completion)
#   make install DESTDIR= PREFIX=/usr
#                             install qm and qm-controller, every file in its FHS place (README: "What gets installed")
#   make install-qm_dropin_NAME DESTDIR=
#                             install one sub-package's drop-ins (subpackages/NAME/files/)
#   make selinux              the SELinux policy module, build/selinux/qm.pp (selinux-policy-dev; docs/selinux.md)
#   make install-qm-selinux DESTDIR=
#                             install it, with the contexts file QM's podman reads
#   make deb                  the Debian packages, in build/deb/ (dpkg-buildpackage, debhelper; BUILDDIR= moves build/)
#   make rpm                  the RPMs with every sub-package, in rpmbuild/RPMS/ (rpmbuild; RPMTOPDIR= moves rpmbuild/)
#   make qm_dropin_NAME       the RPMs of qm and that sub-package only (the seed's way)
#   make dist                 the source tarball build/qm-VERSION.tar.gz, with dist/ built in
#   make man                  only the man pages and completion files
#   make diagrams             the book's diagrams, docs/diagrams/*.svg from their Graphviz sources (graphviz)
#   make clean
#
# PREFIX moves qmctl, the daemons, man pages and completion; the unit files are rewritten to match. Quadlet files,
# systemd units and the D-Bus policy stay where quadlet, systemd and dbus-daemon read them, whatever PREFIX is.

VERSION ?= $(shell node -p "require('./package.json').version")
PREFIX ?= /usr
DESTDIR ?=
BINDIR = $(PREFIX)/bin
LIBEXECDIR = $(PREFIX)/libexec
DATADIR = $(PREFIX)/share
MANDIR = $(DATADIR)/man
BASHCOMPDIR = $(DATADIR)/bash-completion/completions
ZSHCOMPDIR = $(DATADIR)/zsh/vendor-completions
QUADLETDIR = /usr/share/containers/systemd
UNITDIR = /usr/lib/systemd/system
DBUSPOLICYDIR = /usr/share/dbus-1/system.d
SYSUSERSDIR = /usr/lib/sysusers.d
SYSCONFDIR = /etc
QMDATADIR = /usr/share/qm
# V8 code caches the executables write when run as root (controller/bundle/code-cache.ts); none where it is missing.
CODECACHEDIR = /var/cache/qm/code-cache
# Where make dist, deb and rpm put what they build.
BUILDDIR ?= build
RPMTOPDIR ?= $(CURDIR)/rpmbuild

SUBPACKAGES = $(patsubst subpackages/%/files/.,%,$(wildcard subpackages/*/files/.))
SOURCES = $(shell find controller agent-config -type f) docs/layout.md docs/qm.md scripts/build.mjs scripts/gen-docs.ts package-lock.json
BUILT = dist/qmctl.cjs dist/qm-controller.cjs dist/qm-bluechi-gate.cjs dist/qmctl.parts dist/qm-controller.parts dist/qm-bluechi-gate.parts \
	dist/man/qmctl.1 dist/man/qm-controller.8 dist/man/qm.8 dist/man/qm-layout.5 \
	dist/completion/qmctl.bash dist/completion/_qmctl

INSTALL = install
# Unit files name the programs by their installed paths.
SUBST = sed -e 's|/usr/bin/qmctl|$(BINDIR)/qmctl|g' -e 's|/usr/libexec/|$(LIBEXECDIR)/|g'

.PHONY: all build man diagrams install install-qm install-qm-controller install-subpackages deb rpm dist clean selinux install-qm-selinux \
	$(addprefix qm_dropin_,$(SUBPACKAGES)) $(addprefix install-qm_dropin_,$(SUBPACKAGES)) help

all: $(BUILT) dist/qm-probe

# One build makes the JavaScript of dist/ and its docs; it needs node_modules (npm ci) unless they came built in the
# source tarball.
$(BUILT) &: $(SOURCES)
	node scripts/build.mjs

# qm-probe: the static C program `qmctl check` runs inside QM and in a nested container whose root holds nothing
# else, so it needs no libc from either (check/qm-probe.c).
dist/qm-probe: $(wildcard check/*.c)
	mkdir -p dist
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ check/qm-probe.c

build: all

man:
	node scripts/build.mjs --docs-only

# The book's diagrams. The SVGs are committed, so the book reads anywhere without a build; rendered again here after
# a source changed, and test/docs/diagrams.test.ts fails while one differs from its source's rendering.
DIAGRAMS = $(patsubst %.dot,%.svg,$(wildcard docs/diagrams/*.dot))

diagrams: $(DIAGRAMS)

docs/diagrams/%.svg: docs/diagrams/%.dot
	dot -Tsvg $< -o $@

help:
	@sed -n '2,/^$$/s/^# \{0,1\}//p' Makefile
	@for name in $(SUBPACKAGES); do echo "  qm_dropin_$$name - $$(sed -n '3p' subpackages/$$name/README.md)"; done

install: install-qm install-qm-controller

# qm: the partition (quadlet file, drop-ins, QM's podman settings), qmctl, the gate, the agent-config units.
install-qm: all
	$(INSTALL) -D -m 0755 dist/qmctl.cjs $(DESTDIR)$(BINDIR)/qmctl
	$(INSTALL) -D -m 0755 dist/qm-bluechi-gate.cjs $(DESTDIR)$(LIBEXECDIR)/qm-bluechi-gate
	# Each executable's program and packages, which it finds in ../share/qm/ (controller/bundle/launch.ts).
	$(INSTALL) -D -m 0644 dist/qmctl.parts $(DESTDIR)$(DATADIR)/qm/qmctl.parts
	$(INSTALL) -D -m 0644 dist/qm-bluechi-gate.parts $(DESTDIR)$(DATADIR)/qm/qm-bluechi-gate.parts
	$(INSTALL) -D -m 0755 dist/qm-probe $(DESTDIR)$(LIBEXECDIR)/qm/qm-probe
	$(INSTALL) -D -m 0644 units/qm.container $(DESTDIR)$(QUADLETDIR)/qm.container
	for file in units/qm.container.d/*.conf; do \
	  $(SUBST) $$file | $(INSTALL) -D -m 0644 /dev/stdin $(DESTDIR)$(QUADLETDIR)/qm.container.d/$$(basename $$file) || exit 1; \
	done
	$(INSTALL) -D -m 0644 units/containers.conf $(DESTDIR)$(QMDATADIR)/containers.conf
	for unit in qm-agent-config.path qm-agent-config.service qm-bluechi-gate.socket qm-bluechi-gate.service; do \
	  $(SUBST) units/$$unit | $(INSTALL) -D -m 0644 /dev/stdin $(DESTDIR)$(UNITDIR)/$$unit || exit 1; \
	done
	$(INSTALL) -D -m 0644 dist/man/qmctl.1 $(DESTDIR)$(MANDIR)/man1/qmctl.1
	$(INSTALL) -D -m 0644 dist/man/qm.8 $(DESTDIR)$(MANDIR)/man8/qm.8
	$(INSTALL) -D -m 0644 dist/man/qm-layout.5 $(DESTDIR)$(MANDIR)/man5/qm-layout.5
	$(INSTALL) -D -m 0644 dist/completion/qmctl.bash $(DESTDIR)$(BASHCOMPDIR)/qmctl
	$(INSTALL) -D -m 0644 dist/completion/_qmctl $(DESTDIR)$(ZSHCOMPDIR)/_qmctl
	$(INSTALL) -d -m 0755 $(DESTDIR)$(CODECACHEDIR)

# qm-controller: the daemon that keeps the vehicle matching its layout, its unit, its D-Bus policy, an example layout.
install-qm-controller: all
	$(INSTALL) -D -m 0755 dist/qm-controller.cjs $(DESTDIR)$(LIBEXECDIR)/qm-controller
	$(INSTALL) -D -m 0644 dist/qm-controller.parts $(DESTDIR)$(DATADIR)/qm/qm-controller.parts
	$(SUBST) units/qm-controller.service | $(INSTALL) -D -m 0644 /dev/stdin $(DESTDIR)$(UNITDIR)/qm-controller.service
	$(INSTALL) -D -m 0644 units/org.qm.Controller1.conf $(DESTDIR)$(DBUSPOLICYDIR)/org.qm.Controller1.conf
	$(INSTALL) -D -m 0644 units/qm-controller.sysusers $(DESTDIR)$(SYSUSERSDIR)/qm-controller.conf
	$(INSTALL) -D -m 0644 examples/vehicle/layout.yaml $(DESTDIR)$(SYSCONFDIR)/qm-controller/layout.yaml
	$(INSTALL) -D -m 0644 dist/man/qm-controller.8 $(DESTDIR)$(MANDIR)/man8/qm-controller.8
	$(INSTALL) -d -m 0755 $(DESTDIR)$(CODECACHEDIR)

# A sub-package is its files/ tree, installed as it stands.
$(addprefix install-qm_dropin_,$(SUBPACKAGES)): install-qm_dropin_%:
	mkdir -p $(DESTDIR)/
	cp -R --preserve=mode subpackages/$*/files/. $(DESTDIR)/

install-subpackages: $(addprefix install-qm_dropin_,$(SUBPACKAGES))

# qm-selinux: the policy module that defines qm.container's types, loaded by the package's scripts (semodule), and
# the contexts file qmctl setup puts into QM's rootfs so QM's podman labels nested containers qm_container_t.
selinux: $(BUILDDIR)/selinux/qm.pp

$(BUILDDIR)/selinux/qm.pp: selinux/qm.te selinux/qm.if selinux/qm.fc selinux/build.sh
	sh selinux/build.sh $(BUILDDIR)/selinux

install-qm-selinux: $(BUILDDIR)/selinux/qm.pp
	$(INSTALL) -D -m 0644 $(BUILDDIR)/selinux/qm.pp $(DESTDIR)$(DATADIR)/selinux/packages/qm.pp
	$(INSTALL) -D -m 0644 selinux/qm_contexts $(DESTDIR)$(QMDATADIR)/contexts

# The source tarball: every tracked file (as it is in the work tree) plus the built dist/, so that packaging
# builds need neither npm nor the network. qm-probe, the one compiled program, is left out: packages compile it.
dist: all
	rm -rf $(BUILDDIR)/qm-$(VERSION) && mkdir -p $(BUILDDIR)/qm-$(VERSION)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C $(BUILDDIR)/qm-$(VERSION) -xf -
	cp -a dist $(BUILDDIR)/qm-$(VERSION)/dist && rm -f $(BUILDDIR)/qm-$(VERSION)/dist/qm-probe
	# Newer than every source in the tarball, whatever was edited since: a package build never needs npm.
	find $(BUILDDIR)/qm-$(VERSION)/dist -exec touch {} +
	tar -C $(BUILDDIR) --owner=0 --group=0 --sort=name -czf $(BUILDDIR)/qm-$(VERSION).tar.gz qm-$(VERSION)
	rm -rf $(BUILDDIR)/qm-$(VERSION)
	@echo $(BUILDDIR)/qm-$(VERSION).tar.gz

deb: dist
	VERSION=$(VERSION) sh packaging/build-deb.sh $(BUILDDIR)/qm-$(VERSION).tar.gz $(BUILDDIR)/deb

rpm: dist
	VERSION=$(VERSION) RPMTOPDIR=$(RPMTOPDIR) sh packaging/build-rpm.sh $(BUILDDIR)/qm-$(VERSION).tar.gz $(SUBPACKAGES)

$(addprefix qm_dropin_,$(SUBPACKAGES)): qm_dropin_%: dist
	VERSION=$(VERSION) RPMTOPDIR=$(RPMTOPDIR) sh packaging/build-rpm.sh $(BUILDDIR)/qm-$(VERSION).tar.gz $*

clean:
	rm -rf dist build rpmbuild
