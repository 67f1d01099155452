// AuthZEN Authorization API 1.0 §9: the policy decision point's metadata, at
// /.well-known/authzen-configuration. Mandate serves the two evaluation endpoints, not the search APIs.
export interface PdpMetadata {
  policy_decision_point: string
  access_evaluation_endpoint: string
  access_evaluations_endpoint: string
}

export const pdpMetadata = (issuer: string): PdpMetadata => ({
  policy_decision_point: issuer,
  access_evaluation_endpoint: `${issuer}/access/v1/evaluation`,
  access_evaluations_endpoint: `${issuer}/access/v1/evaluations`,
})
