#ifndef IMPORT_REMOTE_PLUGIN_H
#define IMPORT_REMOTE_PLUGIN_H

extern const char *import_remote_plugin_version;

void import_remote_plugin_init(struct module *module);
void import_remote_plugin_deinit(void);

#endif
