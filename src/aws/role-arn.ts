/** The parts of an IAM role ARN that the IAM API needs: `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`. */
export interface RoleArnParts {
  partition: string
  accountId: string
  /** `/` or `/team/`: IAM's form of the path. */
  path: string
  roleName: string
}

const roleArnPattern = /^arn:(aws[a-z-]*):iam::(\d{12}):role((?:\/[\u0021-\u002e\u0030-\u007e]+)*)\/([\w+=,.@-]{1,64})$/

/** The parts of a role ARN, or undefined when the text is not one. */
export function parseRoleArn(arn: string): RoleArnParts | undefined {
  const match = roleArnPattern.exec(arn)
  if (match === null) return undefined
  const [, partition = '', accountId = '', pathSegments = '', roleName = ''] = match
  return { partition, accountId, path: `${pathSegments}/`, roleName }
}
