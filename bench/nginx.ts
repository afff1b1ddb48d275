import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnChild, type Child } from './child-process.js'
import { reservePort } from './gateway-process.js'

/**
 * nginx's own way to put authentication in front of a backend (Debian's nginx-light has
 * auth_request, no JWT module): a subrequest per request to an endpoint that judges the token (the
 * bench's introspection server, `/auth`), its answers cached by nginx for 60 s keyed by the
 * Authorization header, so a warm token costs a cache lookup, as the gateway's warm introspection.
 */
export interface NginxAuth {
  /** `http://127.0.0.1:<port>` of the endpoint that answers `/auth`. */
  readonly origin: string
}

function authLocation(origin: string): string {
  return `    location = /_auth {
      internal;
      proxy_pass ${origin}/auth;
      proxy_method GET;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_cache auth;
      proxy_cache_key $http_authorization;
      proxy_cache_valid 204 401 60s;
      proxy_cache_methods GET HEAD POST;
    }
`
}

export interface NginxProxy {
  readonly child: Child
  readonly url: string
  /** The end of nginx's error log (for a failed probe). */
  errorLog(): string
}

/**
 * The C reference: a plain nginx reverse proxy with a keep-alive upstream pool and no auth, so its
 * figure is the floor for "any proxy at all". One worker, like one gateway process; its access log
 * on, one `combined` line per request written unbuffered (nginx's default), to /dev/null like the
 * gateway's access line and audit record: the write is made and charged, nothing is kept. The
 * generated config lives in a temp directory; nginx runs in the foreground as our child.
 */
export async function startNginx(nginxPath: string, backendOrigin: string, dir: string, auth?: NginxAuth): Promise<NginxProxy> {
  const root = join(dir, auth === undefined ? 'nginx' : 'nginx-auth')
  mkdirSync(join(root, 'logs'), { recursive: true })
  const port = await reservePort()
  const upstream = new URL(backendOrigin).host
  // Started by root, nginx's worker would run as nobody, who cannot enter the private temp
  // directory (the auth cache lives there): the worker stays the user the bench runs as.
  const conf = `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
daemon off;
pid ${root}/nginx.pid;
error_log ${root}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log /dev/null combined;
  client_body_temp_path ${root}/body;
  proxy_temp_path ${root}/proxy;
  fastcgi_temp_path ${root}/fastcgi;
  uwsgi_temp_path ${root}/uwsgi;
  scgi_temp_path ${root}/scgi;
  proxy_cache_path ${root}/auth-cache levels=1:2 keys_zone=auth:1m;
  upstream backend {
    server ${upstream};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
${auth === undefined ? '' : authLocation(auth.origin)}    location / {${auth === undefined ? '' : '\n      auth_request /_auth;'}
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
      proxy_buffering off;
    }
  }
}
`
  const confPath = join(root, 'nginx.conf')
  writeFileSync(confPath, conf)
  const child = spawnChild('nginx', nginxPath, ['-p', root, '-c', confPath, '-e', join(root, 'logs/error.log')])
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  let exited = false
  void child.exited.then(() => {
    exited = true
  })
  while (!exited && Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/mcp`, { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' })
      await response.arrayBuffer()
      return { child, url, errorLog: () => readFileSync(join(root, 'logs/error.log'), 'utf8').slice(-2000) }
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  await child.stop()
  throw new Error(`nginx did not start\n${child.stderrTail()}`)
}
