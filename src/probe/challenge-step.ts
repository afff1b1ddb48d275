import { describeError, headerValues, send, type ProbeResponse } from './http.js'
import { openingRequest, type ProbeProtocol } from './mcp-messages.js'
import { skipped, step, type ProbeStep, type StepStatus } from './result.js'
import { parseChallenges, sdkChallengeView } from './www-authenticate.js'

export interface ChallengeFindings {
  readonly steps: ProbeStep[]
  /** `resource_metadata` of the Bearer challenge, when it is an absolute URL. */
  readonly resourceMetadata: string | undefined
  readonly scope: string | undefined
}

/**
 * Steps 1 and 2: the request a client opens with, sent without a token, must be refused with 401
 * (MCP authorization §Authorization Flow Steps), and its challenge must tell the client where the
 * metadata is (RFC 9728 §5.1) and which scope to ask for (RFC 6750 §3).
 */
export async function probeUnauthenticated(url: string, protocol: ProbeProtocol, timeoutMs: number): Promise<ChallengeFindings> {
  const message = openingRequest({ protocol }, 1)
  const title = `Unauthenticated ${message.method}`
  let response: ProbeResponse
  try {
    response = await send({ method: 'POST', url, headers: message.headers, body: message.body, timeoutMs })
  } catch (error) {
    return {
      steps: [
        step('unauthenticated', title, 'fail', [`POST ${url} (${message.method}, no token) -> ${describeError(error)}`], 'cannot reach the endpoint and gives up'),
        skipped('challenge', 'WWW-Authenticate challenge', 'no answer'),
      ],
      resourceMetadata: undefined,
      scope: undefined,
    }
  }
  const saw = [`POST ${url} (${message.method}, no token) -> HTTP ${response.status}`]
  const first = unauthenticatedStep(title, response, saw)
  if (response.status !== 401 && headerValues(response, 'www-authenticate').length === 0) {
    return { steps: [first, skipped('challenge', 'WWW-Authenticate challenge', 'no 401')], resourceMetadata: undefined, scope: undefined }
  }
  const challenge = evaluateChallenge(headerValues(response, 'www-authenticate'))
  return { steps: [first, challenge.step], resourceMetadata: challenge.resourceMetadata, scope: challenge.scope }
}

function unauthenticatedStep(title: string, response: ProbeResponse, saw: string[]): ProbeStep {
  if (response.status === 401) return step('unauthenticated', title, 'ok', saw, 'starts authorization: reads the WWW-Authenticate challenge')
  if (response.status >= 200 && response.status < 300) {
    return step(
      'unauthenticated',
      title,
      'fail',
      [...saw, 'the endpoint answered without a token: nothing protects it'],
      'talks to the server without authorization; it never asks for a token',
    )
  }
  if (response.status === 403) {
    return step(
      'unauthenticated',
      title,
      'fail',
      [...saw, 'a request without credentials must get 401 (RFC 6750 §3.1, MCP authorization §Error Handling)'],
      'treats 403 as a permission problem, not as "log in first", and does not start authorization',
    )
  }
  return step('unauthenticated', title, 'fail', [...saw, 'expected 401'], `stops: HTTP ${response.status} is not an authorization challenge`)
}

export interface ChallengeEvaluation {
  step: ProbeStep
  resourceMetadata: string | undefined
  scope: string | undefined
}

/** Step 2, pure: the `WWW-Authenticate` values of the 401 as RFC 9110 and the SDK client read them. */
export function evaluateChallenge(values: readonly string[]): ChallengeEvaluation {
  const title = 'WWW-Authenticate challenge'
  const saw: string[] = values.map((v) => `WWW-Authenticate: ${v}`)
  const statuses: StepStatus[] = []
  const note = (status: StepStatus, text: string) => {
    statuses.push(status)
    saw.push(text)
  }
  if (values.length === 0) {
    note('fail', 'no WWW-Authenticate header on the 401 (RFC 9110 §11.6.1 requires one)')
    return { step: step('challenge', title, 'fail', saw, 'has no challenge to follow; tries the well-known metadata URLs'), resourceMetadata: undefined, scope: undefined }
  }
  const challenges = values.flatMap((v) => parseChallenges(v))
  // RFC 9449 §7.1: a DPoP challenge beside Bearer is expected of a resource that accepts DPoP.
  const dpop = challenges.find((c) => c.scheme.toLowerCase() === 'dpop')
  const bearerAndDpop = challenges.length === 2 && dpop !== undefined
  if (values.length > 1 && !bearerAndDpop) note('warn', `${values.length} WWW-Authenticate headers; clients read them joined as one line`)
  const bearer = challenges.find((c) => c.scheme.toLowerCase() === 'bearer')
  const sdk = sdkChallengeView(values.join(', '))
  if (bearer === undefined) {
    note('fail', `no Bearer challenge (schemes: ${challenges.map((c) => c.scheme).join(', ') || 'none'})`)
    return { step: step('challenge', title, 'fail', saw, 'finds no Bearer challenge and gives up'), resourceMetadata: undefined, scope: undefined }
  }
  if (!sdk.bearer) note('fail', 'the first challenge is not Bearer: the MCP SDK client only reads a Bearer challenge that comes first')
  if (challenges.length > 1 && !bearerAndDpop) note('warn', `${challenges.length} challenges; MCP clients expect only Bearer (and DPoP beside it)`)
  if (dpop !== undefined) note('ok', `DPoP offered too (RFC 9449 §7.1), algs: "${dpop.params.algs ?? ''}"`)

  let resourceMetadata = bearer.params.resource_metadata
  if (resourceMetadata === undefined) {
    note('warn', 'no resource_metadata (RFC 9728 §5.1); clients of 2025-06-18 and older need it, newer ones try the well-known URLs')
  } else if (!URL.canParse(resourceMetadata)) {
    note('fail', `resource_metadata "${resourceMetadata}" is not an absolute URL`)
    resourceMetadata = undefined
  } else {
    note('ok', `resource_metadata: ${resourceMetadata}`)
  }
  const scope = bearer.params.scope
  if (scope === undefined) note('warn', 'no scope (MCP authorization: SHOULD be present); clients then request all of scopes_supported')
  else note('ok', `scope: "${scope}"`)
  if (bearer.params.error !== undefined) {
    note('warn', `error="${bearer.params.error}" on a request without credentials (RFC 6750 §3.1: SHOULD NOT carry an error code)`)
  }
  if (sdk.bearer && (sdk.resourceMetadata !== bearer.params.resource_metadata || sdk.scope !== scope)) {
    note(
      'fail',
      `the MCP SDK client reads resource_metadata "${sdk.resourceMetadata ?? ''}" and scope "${sdk.scope ?? ''}" from this header ` +
        '(it takes the first name= anywhere: put scope and resource_metadata before error_description)',
    )
  }
  const status: StepStatus = statuses.includes('fail') ? 'fail' : statuses.includes('warn') ? 'warn' : 'ok'
  const where = resourceMetadata === undefined ? 'looks for the metadata at the well-known URLs' : `fetches the resource metadata at ${resourceMetadata}`
  const asks = scope === undefined ? '' : ` and will ask for scope "${scope}"`
  return { step: step('challenge', title, status, saw, `${where}${asks}`), resourceMetadata, scope }
}
