// Error bodies of the two API families.

/** Which host family a path belongs to: api360 (mail, disk) or cloud-api (events). */
export type Family = 'api360' | 'cloud'

/** An HTTP error to send. */
export interface ApiError { status: number; message: string }

const GRPC: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 429: 8, 500: 13, 502: 14, 503: 14 }
const CLOUD: Record<number, string> = {
  400: 'BadRequestError', 401: 'UnauthorizedError', 403: 'ForbiddenError', 404: 'NotFoundError', 405: 'MethodNotAllowedError',
  429: 'TooManyRequestsError', 500: 'InternalServerError', 502: 'BadGatewayError', 503: 'ServiceUnavailableError',
}

/** JSON error body: api360 `{"code","message","details":[{"requestId"}]}`, cloud-api `{"error","description"}`. */
export function errorBody(family: Family, e: ApiError, requestId: string, grpcCode?: number): string {
  if (family === 'api360') return JSON.stringify({ code: grpcCode ?? GRPC[e.status] ?? 2, message: e.message, details: [{ requestId }] })
  return JSON.stringify({ error: CLOUD[e.status] ?? 'Error', description: e.message })
}

/** The nginx-style HTML page of a 502 from a proxy in front of the API. */
export const HTML_502 = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n'
