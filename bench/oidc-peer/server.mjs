// node-oidc-provider as a client_credentials token server with JWT access tokens, for
// bench/token.sh: the same documented form request Brandstream answers
// (client_id, client_secret, grant_type=client_credentials, audience), signed with ALG.
//
//   PORT=18182 ALG=ES256 CLIENT_ID=bench CLIENT_SECRET=… node server.mjs
//
// The audience parameter is not part of its protocol; the resource server is its default
// resource (RFC 8707), so the request works unchanged and the token's `aud` is the same.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 18182);
const alg = process.env.ALG || 'RS256';
const audience = process.env.AUDIENCE || 'https://api.sitecorecloud.io';
const clientId = process.env.CLIENT_ID || 'bench';
const clientSecret = process.env.CLIENT_SECRET;
if (!clientSecret) {
  console.error('CLIENT_SECRET is required');
  process.exit(2);
}

const keyType = {
  RS256: ['rsa', { modulusLength: 2048 }],
  ES256: ['ec', { namedCurve: 'P-256' }],
  EdDSA: ['ed25519', {}],
}[alg];
if (!keyType) {
  console.error(`unsupported ALG ${alg}`);
  process.exit(2);
}
const { privateKey } = generateKeyPairSync(...keyType);
const jwk = { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: 'bench' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: alg,
  }],
  jwks: { keys: [jwk] },
  ttl: { ClientCredentials: 86400 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: '',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 86400,
        jwt: { sign: { alg } },
      }),
    },
  },
});
provider.listen(port, '127.0.0.1', () => console.error(`oidc-provider ${alg} on ${port}`));
