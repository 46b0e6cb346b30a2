# ansible: the collection xsplice.livepatch (module xsplice.livepatch.patch),
# installed where ansible finds collections under $(PREFIX)/share/ansible.
ANSIBLE_COLL_SRC := ansible/ansible_collections/xsplice/livepatch
ANSIBLE_COLL_DIR = $(DESTDIR)$(PREFIX)/share/ansible/collections/ansible_collections/xsplice/livepatch

.PHONY: install-ansible
install-ansible:
	install -d $(ANSIBLE_COLL_DIR)/plugins/modules $(ANSIBLE_COLL_DIR)/plugins/action \
		$(ANSIBLE_COLL_DIR)/meta
	install -m 0644 $(ANSIBLE_COLL_SRC)/galaxy.yml $(ANSIBLE_COLL_SRC)/README.md $(ANSIBLE_COLL_DIR)/
	install -m 0644 $(ANSIBLE_COLL_SRC)/meta/runtime.yml $(ANSIBLE_COLL_DIR)/meta/
	install -m 0644 $(ANSIBLE_COLL_SRC)/plugins/modules/patch.py $(ANSIBLE_COLL_DIR)/plugins/modules/
	install -m 0644 $(ANSIBLE_COLL_SRC)/plugins/action/patch.py $(ANSIBLE_COLL_DIR)/plugins/action/
INSTALL_TARGETS += install-ansible
