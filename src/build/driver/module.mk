# xsplice-build and xsplice-cc: bash drivers, installed next to xsplice-diff
# and xsplice-pack (xsplice-build finds its helpers in its own directory).
$(B)/bin/xsplice-build: src/build/driver/xsplice-build.sh
	@mkdir -p $(@D)
	bash -n $<
	install -m 0755 $< $@
$(B)/bin/xsplice-cc: src/build/driver/xsplice-cc.sh
	@mkdir -p $(@D)
	bash -n $<
	install -m 0755 $< $@
ALL_TARGETS += $(B)/bin/xsplice-build $(B)/bin/xsplice-cc
