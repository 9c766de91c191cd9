// The dashboard's entry (bundled by src/dashboard/serve.ts): the login prompt, the navigation and a
// hash router over the pages (#/topology, #/service/NS/NAME, #/proxies, #/inspector, #/requests/ID).

import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { html } from 'htm/preact';
import { AuthError, clearToken, getJson, getToken, setToken } from './api.ts';
import { TopologyPage } from './pages/topology.ts';
import { ServicePage } from './pages/service.ts';
import { ProxiesPage } from './pages/proxies.ts';
import { InspectorPage } from './pages/inspector.ts';

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/topology');
  useEffect(() => {
    const on = (): void => setHash(location.hash || '#/topology');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

/**
 * The login prompt: the token is checked against the API (GET /v1/proxies needs any valid admin
 * or read-only token) before it is kept in sessionStorage.
 */
function Login(props: { message: string | undefined; onLogin: (token: string) => void }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event): Promise<void> => {
    ev.preventDefault();
    const input = (ev.currentTarget as HTMLFormElement).elements.namedItem('token') as HTMLInputElement;
    const token = input.value.trim();
    if (!token) return;
    setBusy(true);
    try {
      await getJson('/v1/proxies', token);
      props.onLogin(token);
    } catch (err) {
      setError(err instanceof AuthError ? `The control plane refused this token (${err.message}).` : `Cannot reach the API: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <form onSubmit=${submit} data-login>
      <h1>weft</h1>
      <p>Sign in with an admin or read-only token (<code>weft token create --role read-only</code>, or the
        bootstrap token in <code>DATA_DIR/admin-token</code>). It is kept in this tab's session storage only.</p>
      ${props.message || error ? html`<p class="error" role="alert">${error ?? props.message}</p>` : null}
      <input name="token" type="password" autocomplete="off" placeholder="token" aria-label="token" autofocus />
      <button type="submit" disabled=${busy}>Sign in</button>
    </form>
  </main>`;
}

function App() {
  const [token, setTok] = useState<string | null>(getToken());
  const [message, setMessage] = useState<string | undefined>(undefined);
  const hash = useHash();
  const onAuthError = useCallback((err: AuthError) => {
    clearToken();
    setTok(null);
    setMessage(err.status === 401 ? 'Your token was refused or has expired: sign in again.' : `Forbidden: ${err.message}`);
  }, []);
  if (!token) {
    return html`<${Login} message=${message} onLogin=${(t: string) => {
      setToken(t);
      setMessage(undefined);
      setTok(t);
    }} />`;
  }
  const parts = hash.replace(/^#\/?/, '').split('/').map((p) => decodeURIComponent(p));
  let page;
  if (parts[0] === 'service' && parts[1] && parts[2]) page = html`<${ServicePage} key=${hash} namespace=${parts[1]} name=${parts[2]} onAuthError=${onAuthError} />`;
  else if (parts[0] === 'proxies') page = html`<${ProxiesPage} onAuthError=${onAuthError} />`;
  else if (parts[0] === 'inspector' || parts[0] === 'requests') page = html`<${InspectorPage} requestId=${parts[0] === 'requests' && parts[1] ? parts[1] : undefined} onAuthError=${onAuthError} />`;
  else page = html`<${TopologyPage} onAuthError=${onAuthError} />`;
  const link = (href: string, label: string) => html`<a href=${href} class=${hash.startsWith(href) ? 'active' : ''}>${label}</a>`;
  return html`<div class="app">
    <nav>
      <span class="brand">weft</span>
      ${link('#/topology', 'Topology')} ${link('#/proxies', 'Proxies')} <a href="#/inspector" class=${hash.startsWith('#/inspector') || hash.startsWith('#/requests') ? 'active' : ''}>Request inspector</a>
      <button class="signout" onClick=${() => {
        clearToken();
        setTok(null);
        setMessage(undefined);
      }}>Sign out</button>
    </nav>
    ${page}
  </div>`;
}

render(html`<${App} />`, document.getElementById('app')!);
