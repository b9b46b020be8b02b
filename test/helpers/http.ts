import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios, { type AxiosRequestConfig, type AxiosResponse } from 'axios';

export interface Listening {
  url: string;
  close(): Promise<void>;
}

export async function listen(handler: http.RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A POST that never throws on status, with the body sent exactly as given. */
export function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  config: AxiosRequestConfig = {},
): Promise<AxiosResponse> {
  return axios.post(url, typeof body === 'string' ? body : JSON.stringify(body), {
    headers: { 'Content-Type': 'application/json', ...headers },
    validateStatus: () => true,
    transformRequest: (d) => d,
    ...config,
  });
}
