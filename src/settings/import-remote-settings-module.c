/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* Dovecot 2.4's config process loads the modules of
   $moduledir/settings/ and takes the setting_parser_infos they export: with
   this one there, doveconf knows the import_remote_* settings (checks their
   values, shows them, applies protocol and userdb overrides) and the
   plugin, the doveadm commands and the worker read them with
   settings_get(). */

#include "lib.h"
#include "settings-parser.h"
#include "import-remote-config.h"

/* module_dir_load() names the module by its file:
   libimport_remote_settings.so */
extern const char *import_remote_settings_version;
extern const struct setting_parser_info *import_remote_settings_set_infos[];

const char *import_remote_settings_version = DOVECOT_ABI_VERSION;

const struct setting_parser_info *import_remote_settings_set_infos[] = {
	&import_remote_config_setting_parser_info,
	NULL
};
