/**
 * Provider detection from what each IdP really publishes (issuer and endpoint URL
 * shapes), on their hosted domains and behind custom domains.
 */
import { test } from 'tap'
import { detectProvider } from '../../../lib/doctor/providers.ts'

const tenant = '9188040d-6c67-4c5b-b112-36a304b66dad'

test('each of the six providers is recognised from its metadata', async (t) => {
  const cases: Array<[string, string, Record<string, unknown>, string, string | undefined]> = [
    ['Auth0', 'https://dev-abc123.us.auth0.com/', {
      authorization_endpoint: 'https://dev-abc123.us.auth0.com/authorize',
      token_endpoint: 'https://dev-abc123.us.auth0.com/oauth/token',
      jwks_uri: 'https://dev-abc123.us.auth0.com/.well-known/jwks.json',
      registration_endpoint: 'https://dev-abc123.us.auth0.com/oidc/register'
    }, 'auth0', undefined],
    ['Okta (custom authorization server)', 'https://dev-123456.okta.com/oauth2/default', {
      authorization_endpoint: 'https://dev-123456.okta.com/oauth2/default/v1/authorize',
      jwks_uri: 'https://dev-123456.okta.com/oauth2/default/v1/keys'
    }, 'okta', 'custom'],
    ['Okta (org authorization server)', 'https://acme.okta.com', {
      authorization_endpoint: 'https://acme.okta.com/oauth2/v1/authorize'
    }, 'okta', 'org'],
    ['Entra ID v2', `https://login.microsoftonline.com/${tenant}/v2.0`, {
      authorization_endpoint: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/authorize`,
      jwks_uri: `https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys`
    }, 'entra', 'v2'],
    ['Entra ID v1', `https://sts.windows.net/${tenant}/`, {
      authorization_endpoint: `https://login.microsoftonline.com/${tenant}/oauth2/authorize`,
      jwks_uri: 'https://login.microsoftonline.com/common/discovery/keys'
    }, 'entra', 'v1'],
    ['Keycloak', 'https://sso.example.com/realms/mcp', {
      authorization_endpoint: 'https://sso.example.com/realms/mcp/protocol/openid-connect/auth'
    }, 'keycloak', undefined],
    ['Google', 'https://accounts.google.com', {
      authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
      token_endpoint: 'https://oauth2.googleapis.com/token',
      jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs'
    }, 'google', undefined],
    ['AWS Cognito', 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI', {
      authorization_endpoint: 'https://my-pool.auth.eu-west-1.amazoncognito.com/oauth2/authorize',
      jwks_uri: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI/.well-known/jwks.json'
    }, 'cognito', undefined]
  ]
  for (const [name, issuer, metadata, id, variant] of cases) {
    const provider = detectProvider(issuer, { issuer, ...metadata })
    t.equal(provider?.id, id, name)
    t.equal(provider?.variant, variant, `${name}: variant`)
    t.match(provider?.guide, /^docs\/[a-z0-9-]+\.md$/, `${name}: has a guide`)
  }
})

test('the issuer URL alone is enough for the hosted domains (when the metadata cannot be fetched)', async (t) => {
  t.equal(detectProvider('https://acme.eu.auth0.com/')?.id, 'auth0')
  t.equal(detectProvider('https://acme.oktapreview.com/oauth2/aus1abc')?.id, 'okta')
  t.equal(detectProvider('https://acme.oktapreview.com/oauth2/aus1abc')?.variant, 'custom')
  t.equal(detectProvider(`https://login.microsoftonline.com/${tenant}/v2.0`)?.id, 'entra')
  t.equal(detectProvider('https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0')?.id, 'entra')
  t.equal(detectProvider('https://kc.internal:8443/auth/realms/tools')?.id, 'keycloak', 'Keycloak before 17 (/auth/realms)')
  t.equal(detectProvider('https://accounts.google.com')?.id, 'google')
  t.equal(detectProvider('https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X')?.id, 'cognito')
})

test('custom domains are recognised from the endpoint shapes', async (t) => {
  t.equal(detectProvider('https://login.example.com/', {
    authorization_endpoint: 'https://login.example.com/authorize',
    token_endpoint: 'https://login.example.com/oauth/token',
    mfa_challenge_endpoint: 'https://login.example.com/mfa/challenge'
  })?.id, 'auth0', 'Auth0 custom domain (mfa_challenge_endpoint)')
  t.equal(detectProvider('https://login.example.com/', {
    token_endpoint: 'https://login.example.com/oauth/token',
    registration_endpoint: 'https://login.example.com/oidc/register'
  })?.id, 'auth0', 'Auth0 custom domain (endpoint paths)')
  t.equal(detectProvider('https://id.example.com/oauth2/aus1abcd', {
    authorization_endpoint: 'https://id.example.com/oauth2/aus1abcd/v1/authorize'
  })?.id, 'okta', 'Okta custom domain')
  t.equal(detectProvider('https://auth.example.com', {
    authorization_endpoint: 'https://auth.example.com/oauth2/authorize',
    jwks_uri: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X/.well-known/jwks.json'
  })?.id, undefined, 'a Cognito-looking key URL alone is not enough')
  t.equal(detectProvider('https://auth.example.com', {
    authorization_endpoint: 'https://auth.example.com/authorize',
    token_endpoint: 'https://auth.example.com/token'
  }), undefined, 'a generic authorization server is not mistaken for a known one')
})
