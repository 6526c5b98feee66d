#ifndef IMPORT_REMOTE_COMPAT_H
#define IMPORT_REMOTE_COMPAT_H

/* Every Dovecot API this project uses whose shape differs between 2.3 and
   2.4 is called through here, so that supporting 2.4 (typed settings,
   settings_get()) changes this file only. */

struct mail_user;
struct mail_namespace;
struct ssl_iostream_settings;

/* The user's TLS client settings (ssl_client_ca_file/_dir, ...). */
void import_remote_compat_ssl_client_settings(struct mail_user *user,
		struct ssl_iostream_settings *ssl_set_r);

/* Call callback for every mailbox of the namespace's configuration that has
   a special_use (e.g. "\Sent"; several may be space-separated). Names are
   relative to the namespace prefix. */
typedef void import_remote_special_use_callback_t(const char *name,
						  const char *special_use,
						  void *context);
void import_remote_compat_special_use_mailboxes(struct mail_namespace *ns,
		import_remote_special_use_callback_t *callback, void *context);

#endif
