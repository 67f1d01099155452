// Types for the one oidc-provider internal module we import (the package has no exports map): the
// DPoP nonce challenge, so nonces issued at /token are accepted by our own endpoints and back.
declare module 'oidc-provider/lib/helpers/challenge.js' {
  export default class ServerChallenge {
    constructor(secret: Buffer, info: string)
    nextChallenge(): string
    checkChallenge(challenge: string): boolean
  }
}
