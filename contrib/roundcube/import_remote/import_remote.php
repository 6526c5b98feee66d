<?php

/**
 * Import mail: users import their old mailbox themselves, in Settings.
 *
 * Talks to Dovecot over the user's own IMAP session only: server METADATA
 * entries under /private/vendor/vendor.dovecot/import-remote/ that the
 * dovecot-import-remote mail plugin provides (import_remote_user_requests =
 * yes). Roundcube holds no admin credential; the old mailbox's password goes
 * to Dovecot once, in the request, and is neither kept nor shown again.
 *
 * @license GNU GPLv3+
 */
class import_remote extends rcube_plugin
{
    public $task = 'settings';

    const PREFIX = '/private/vendor/vendor.dovecot/import-remote';

    // the providers the form offers; each can be overridden in config
    private static $default_presets = [
        'gmail'  => ['host' => 'imap.gmail.com', 'port' => 993, 'security' => 'imaps'],
        'm365'   => ['host' => 'outlook.office365.com', 'port' => 993, 'security' => 'imaps'],
        'yahoo'  => ['host' => 'imap.mail.yahoo.com', 'port' => 993, 'security' => 'imaps'],
        'icloud' => ['host' => 'imap.mail.me.com', 'port' => 993, 'security' => 'imaps'],
        'cpanel' => ['host' => 'mail.', 'port' => 993, 'security' => 'imaps'],
        'other'  => ['host' => '', 'port' => 993, 'security' => 'imaps'],
    ];

    // presets whose provider takes an OAuth2 token in a request (the
    // METADATA request's "provider"): its token endpoint and, for
    // Microsoft, the IMAP scope
    private static $token_providers = [
        'gmail' => 'google',
        'm365'  => 'microsoft',
    ];

        public function init()
    {
        $this->load_config();
        $this->add_texts('localization/', true);
        $this->add_hook('settings_actions', [$this, 'settings_actions']);
        $this->register_action('plugin.import_remote', [$this, 'page']);
        $this->register_action('plugin.import_remote-status', [$this, 'status']);
        $this->register_action('plugin.import_remote-start', [$this, 'start']);
        $this->register_action('plugin.import_remote-cancel', [$this, 'cancel']);
        $this->register_action('plugin.import_remote-retry', [$this, 'retry']);
    }

    public function settings_actions($args)
    {
        $args['actions'][] = [
            'action' => 'plugin.import_remote',
            'class'  => 'import_remote',
            'label'  => 'importmail',
            'title'  => 'importmailtitle',
            'domain' => 'import_remote',
        ];

        return $args;
    }

    private function presets()
    {
        $presets = (array) rcube::get_instance()->config->get('import_remote_presets', []);

        return array_merge(self::$default_presets, $presets);
    }

    /**
     * The Settings page
     */
    public function page()
    {
        $rcmail = rcmail::get_instance();

        $this->include_script('import_remote.js');
        $this->include_stylesheet($this->local_skin_path() . '/import_remote.css');
        $rcmail->output->set_env('import_remote_presets', $this->presets());
        $rcmail->output->set_env('import_remote_token_presets', array_keys(self::$token_providers));
        $rcmail->output->set_env('import_remote_server_oauth2',
            (bool) $rcmail->config->get('import_remote_server_oauth2', false));
        $rcmail->output->set_env('import_remote_interval',
            max(1, (int) $rcmail->config->get('import_remote_poll_interval', 2)));
        $rcmail->output->set_pagetitle($this->gettext('importmail'));
        $rcmail->output->add_handlers(['plugin.body' => [$this, 'body']]);
        $rcmail->output->send('plugin');
    }

    public function body()
    {
        $rcmail = rcmail::get_instance();
        $form   = $this->form_html();

        $status = html::div(['id' => 'import-remote-status', 'class' => 'import-remote-box', 'style' => 'display:none'],
            html::div(['class' => 'import-remote-state'],
                html::span(['id' => 'import-remote-state-label', 'class' => 'import-remote-badge'], '')
                . html::span(['id' => 'import-remote-source'], ''))
            . html::div(['class' => 'import-remote-bar', 'role' => 'progressbar', 'id' => 'import-remote-bar',
                    'aria-valuemin' => 0, 'aria-valuemax' => 100, 'aria-valuenow' => 0],
                html::div(['class' => 'import-remote-bar-fill', 'id' => 'import-remote-bar-fill'], '')
                . html::span(['class' => 'import-remote-bar-text', 'id' => 'import-remote-percent'], '0%'))
            . html::p(['id' => 'import-remote-progress'], '')
            . html::div(['id' => 'import-remote-error', 'class' => 'import-remote-error', 'style' => 'display:none'],
                html::tag('strong', ['id' => 'import-remote-error-title'], '')
                . html::p(['id' => 'import-remote-error-hint'], ''))
            . html::div(['class' => 'formbuttons'],
                html::tag('button', ['type' => 'button', 'id' => 'import-remote-cancel',
                    'class' => 'button', 'style' => 'display:none'], rcube::Q($this->gettext('cancel')))
                . html::tag('button', ['type' => 'button', 'id' => 'import-remote-retry',
                    'class' => 'button', 'style' => 'display:none'], rcube::Q($this->gettext('retry')))
                . html::tag('button', ['type' => 'button', 'id' => 'import-remote-rerun',
                    'class' => 'button', 'style' => 'display:none'], rcube::Q($this->gettext('rerun'))))
        );

        $history = html::tag('h2', ['class' => 'import-remote-heading'], rcube::Q($this->gettext('history')))
            . html::tag('table', ['id' => 'import-remote-history', 'class' => 'records-table import-remote-history'],
                html::tag('thead', null, html::tag('tr', null,
                    html::tag('th', null, rcube::Q($this->gettext('started')))
                    . html::tag('th', null, rcube::Q($this->gettext('source')))
                    . html::tag('th', null, rcube::Q($this->gettext('status')))
                    . html::tag('th', null, rcube::Q($this->gettext('imported')))
                    . html::tag('th', null, rcube::Q($this->gettext('skipped')))
                    . html::tag('th', null, rcube::Q($this->gettext('failed')))
                    . html::tag('th', null, rcube::Q($this->gettext('error')))))
                . html::tag('tbody', null, ''))
            . html::p(['id' => 'import-remote-history-empty', 'class' => 'hint'], rcube::Q($this->gettext('nohistory')));

        $intro = html::p(['class' => 'hint'], rcube::Q($this->gettext('intro')));

        return html::div(['class' => 'formcontent import-remote', 'id' => 'import-remote'],
            html::tag('h1', ['class' => 'import-remote-heading'], rcube::Q($this->gettext('importmail')))
            . $intro . $status . $form . $history);
    }

    private function form_html()
    {
        $table = new html_table(['cols' => 2, 'class' => 'propform']);

        $preset = new html_select(['name' => '_preset', 'id' => 'import-remote-preset']);
        foreach (array_keys($this->presets()) as $name) {
            $preset->add($this->gettext('preset_' . $name), $name);
        }
        $table->add('title', html::label('import-remote-preset', rcube::Q($this->gettext('provider'))));
        $table->add(null, $preset->show('other')
            . html::div(['class' => 'hint', 'id' => 'import-remote-preset-hint'], ''));

        $fields = [
            'host' => new html_inputfield(['name' => '_host', 'id' => 'import-remote-host', 'size' => 40,
                'autocomplete' => 'off', 'spellcheck' => 'false']),
            'port' => new html_inputfield(['name' => '_port', 'id' => 'import-remote-port', 'size' => 6,
                'type' => 'number', 'min' => 1, 'max' => 65535]),
        ];
        $table->add('title', html::label('import-remote-host', rcube::Q($this->gettext('host'))));
        $table->add(null, $fields['host']->show(''));
        $table->add('title', html::label('import-remote-port', rcube::Q($this->gettext('port'))));
        $table->add(null, $fields['port']->show('993'));

        $security = new html_select(['name' => '_security', 'id' => 'import-remote-security']);
        $security->add($this->gettext('security_imaps'), 'imaps');
        $security->add($this->gettext('security_starttls'), 'starttls');
        $table->add('title', html::label('import-remote-security', rcube::Q($this->gettext('security'))));
        $table->add(null, $security->show('imaps'));

        // how the old mailbox is signed in to: a password; an OAuth2
        // token of Google's or Microsoft's (the Gmail and Microsoft 365
        // presets); or, where the administrator set it up, the server's
        // own sign-in with the provider (no source to give)
        $rcmail = rcmail::get_instance();
        $auth = new html_select(['name' => '_auth', 'id' => 'import-remote-auth']);
        $auth->add($this->gettext('auth_password'), 'password');
        $auth->add($this->gettext('auth_token'), 'token');
        if ($rcmail->config->get('import_remote_server_oauth2', false)) {
            $auth->add($this->gettext('auth_server'), 'server');
        }
        $table->add('title', html::label('import-remote-auth', rcube::Q($this->gettext('auth'))));
        $table->add(null, $auth->show('password')
            . html::div(['class' => 'hint', 'id' => 'import-remote-auth-hint'], ''));

        $user = new html_inputfield(['name' => '_user', 'id' => 'import-remote-user', 'size' => 40,
            'autocomplete' => 'off', 'spellcheck' => 'false']);
        $table->add('title', html::label('import-remote-user', rcube::Q($this->gettext('user'))));
        $table->add(null, $user->show(''));

        $pass = new html_passwordfield(['name' => '_pass', 'id' => 'import-remote-pass', 'size' => 40,
            'autocomplete' => 'new-password']);
        $table->add('title', html::label('import-remote-pass', rcube::Q($this->gettext('password'))));
        $table->add(null, $pass->show()
            . html::div(['class' => 'hint'], rcube::Q($this->gettext('passwordhint'))));

        $kind = new html_select(['name' => '_token_kind', 'id' => 'import-remote-token-kind']);
        $kind->add($this->gettext('token_refresh'), 'refresh');
        $kind->add($this->gettext('token_access'), 'access');
        $table->add('title', html::label('import-remote-token-kind', rcube::Q($this->gettext('tokenkind'))));
        $table->add(null, $kind->show('refresh'));

        $token = new html_passwordfield(['name' => '_token', 'id' => 'import-remote-token', 'size' => 40,
            'autocomplete' => 'off', 'spellcheck' => 'false']);
        $table->add('title', html::label('import-remote-token', rcube::Q($this->gettext('token'))));
        $table->add(null, $token->show()
            . html::div(['class' => 'hint'], rcube::Q($this->gettext('tokenhint'))));

        $client = new html_inputfield(['name' => '_client_id', 'id' => 'import-remote-client-id', 'size' => 40,
            'autocomplete' => 'off', 'spellcheck' => 'false']);
        $table->add('title', html::label('import-remote-client-id', rcube::Q($this->gettext('clientid'))));
        $table->add(null, $client->show(''));

        $since = new html_inputfield(['name' => '_since', 'id' => 'import-remote-since', 'type' => 'date']);
        $before = new html_inputfield(['name' => '_before', 'id' => 'import-remote-before', 'type' => 'date']);
        $table->add('title', html::label('import-remote-since', rcube::Q($this->gettext('daterange'))));
        $table->add(null, $since->show('') . ' &ndash; ' . $before->show('')
            . html::div(['class' => 'hint'], rcube::Q($this->gettext('daterangehint'))));

        $newest = new html_checkbox(['name' => '_newest', 'id' => 'import-remote-newest', 'value' => 1]);
        $table->add('title', html::label('import-remote-newest', rcube::Q($this->gettext('newestfirst'))));
        $table->add(null, $newest->show(1));

        $button = html::tag('button', ['type' => 'submit', 'id' => 'import-remote-start',
            'class' => 'button mainaction submit'], rcube::Q($this->gettext('start')));

        return html::tag('form', ['id' => 'import-remote-form', 'autocomplete' => 'off', 'action' => '#'],
            html::tag('fieldset', null,
                html::tag('legend', null, rcube::Q($this->gettext('newimport')))
                . $table->show())
            . html::div(['class' => 'formbuttons'], $button));
    }

    /**
     * The user's jobs, newest first (the history entry), or null
     */
    private function history()
    {
        $storage = rcmail::get_instance()->get_storage();
        $entry = self::PREFIX . '/history';
        // never cached: it changes while the import runs
        $result = $storage->get_metadata('', $entry, [], true);

        if (!is_array($result) || !isset($result[''][$entry])) {
            return null;
        }

        $jobs = json_decode($result[''][$entry], true);

        return is_array($jobs) ? $jobs : null;
    }

    /**
     * What Dovecot said of a refused request: its text, without the
     * response code and timing
     */
    private function imap_error()
    {
        $error = (string) rcmail::get_instance()->get_storage()->get_error_str();
        $error = preg_replace('/^[A-Z]+: /', '', $error);
        $error = preg_replace('/^\[[A-Z-]+\]\s*/', '', $error);
        $error = preg_replace('/\s*\(\d+\.\d+ \+ \d+\.\d+( \+ \d+\.\d+)? secs\)\.?$/', '', $error);

        return $error !== '' ? $error : $this->gettext('requestfailed');
    }

    private function send_update($message = null, $error = null)
    {
        $rcmail = rcmail::get_instance();
        $jobs = $this->history();

        $rcmail->output->command('plugin.import_remote_update', [
            'jobs'    => $jobs === null ? [] : $jobs,
            'ok'      => $jobs !== null,
            'message' => $message,
            'error'   => $error,
        ]);
        $rcmail->output->send();
    }

    private function write($entry, $value)
    {
        $storage = rcmail::get_instance()->get_storage();

        return $storage->set_metadata('', [self::PREFIX . '/' . $entry => $value]);
    }

    public function status()
    {
        $this->send_update();
    }

    public function start()
    {
        $host = trim(rcube_utils::get_input_string('_host', rcube_utils::INPUT_POST));
        $port = (int) rcube_utils::get_input_string('_port', rcube_utils::INPUT_POST);
        $security = rcube_utils::get_input_string('_security', rcube_utils::INPUT_POST);
        $user = trim(rcube_utils::get_input_string('_user', rcube_utils::INPUT_POST, true));
        $pass = rcube_utils::get_input_string('_pass', rcube_utils::INPUT_POST, true);
        $since = rcube_utils::get_input_string('_since', rcube_utils::INPUT_POST);
        $before = rcube_utils::get_input_string('_before', rcube_utils::INPUT_POST);
        $newest = (bool) rcube_utils::get_input_string('_newest', rcube_utils::INPUT_POST);

        $auth = rcube_utils::get_input_string('_auth', rcube_utils::INPUT_POST);
        $preset = rcube_utils::get_input_string('_preset', rcube_utils::INPUT_POST);
        $token = trim(rcube_utils::get_input_string('_token', rcube_utils::INPUT_POST, true));
        $token_kind = rcube_utils::get_input_string('_token_kind', rcube_utils::INPUT_POST);
        $client_id = trim(rcube_utils::get_input_string('_client_id', rcube_utils::INPUT_POST, true));
        $source = [
            'host'     => $host,
            'port'     => $port > 0 ? $port : 993,
            'security' => $security === 'starttls' ? 'starttls' : 'imaps',
            'user'     => $user,
        ];

        if ($auth === 'server') {
            // the server's own sign-in: the request names no source (Dovecot
            // refuses one that does), only when and in which order
            if (!rcmail::get_instance()->config->get('import_remote_server_oauth2', false)) {
                $this->send_update(null, $this->gettext('requestfailed'));
                return;
            }
            $request = ['oauth2' => 'server', 'newest_first' => $newest];
        }
        else if ($auth === 'token') {
            if (!isset(self::$token_providers[$preset])) {
                $this->send_update(null, $this->gettext('tokenprovider'));
                return;
            }
            if ($user === '' || $token === '' || ($token_kind !== 'access' && $client_id === '')) {
                $this->send_update(null, $this->gettext('fillalltoken'));
                return;
            }
            $request = ['provider' => self::$token_providers[$preset]] + $source;
            if ($host === '') {
                // the provider's IMAP server
                unset($request['host']);
            }
            if ($token_kind === 'access') {
                $request['access_token'] = $token;
            }
            else {
                $request['refresh_token'] = $token;
                $request['client_id'] = $client_id;
            }
            $request['newest_first'] = $newest;
        }
        else {
            if ($host === '' || $user === '' || $pass === '') {
                $this->send_update(null, $this->gettext('fillall'));
                return;
            }
            $request = $source + ['password' => $pass, 'newest_first' => $newest];
        }
        if ($since !== '') {
            $request['since'] = $since;
        }
        if ($before !== '') {
            $request['before'] = $before;
        }

        $json = json_encode($request, JSON_UNESCAPED_SLASHES);
        $ok = $json !== false && $this->write('request', $json);
        unset($request, $json, $pass, $token);

        if ($ok) {
            $this->send_update($this->gettext('queued'));
        }
        else {
            $this->send_update(null, $this->imap_error());
        }
    }

    public function cancel()
    {
        if ($this->write('cancel', 'last')) {
            $this->send_update($this->gettext('cancelled'));
        }
        else {
            $this->send_update(null, $this->imap_error());
        }
    }

    public function retry()
    {
        if ($this->write('retry', 'last')) {
            $this->send_update($this->gettext('queued'));
        }
        else {
            $this->send_update(null, $this->imap_error());
        }
    }
}
