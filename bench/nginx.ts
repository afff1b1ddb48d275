import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnChild, type Child } from './child-process.js'
import { reservePort } from './gateway-process.js'

export interface NginxProxy {
  readonly child: Child
  readonly url: string
}

/**
 * The C reference: a plain nginx reverse proxy with a keep-alive upstream pool and no auth, so its
 * figure is the floor for "any proxy at all". One worker, like one gateway process; its access log
 * on, one `combined` line per request written unbuffered (nginx's default), to /dev/null like the
 * gateway's access line and audit record: the write is made and charged, nothing is kept. The
 * generated config lives in a temp directory; nginx runs in the foreground as our child.
 */
export async function startNginx(nginxPath: string, backendOrigin: string, dir: string): Promise<NginxProxy> {
  const root = join(dir, 'nginx')
  mkdirSync(join(root, 'logs'), { recursive: true })
  const port = await reservePort()
  const upstream = new URL(backendOrigin).host
  const conf = `worker_processes 1;
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
  upstream backend {
    server ${upstream};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
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
      return { child, url }
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  await child.stop()
  throw new Error(`nginx did not start\n${child.stderrTail()}`)
}
