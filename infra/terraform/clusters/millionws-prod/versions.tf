terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100.0"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17.0"
    }
  }

  # Remote state in S3 with S3-native locking (Terraform >= 1.10). Settings come from a file:
  #   cp backend.hcl.example backend.hcl   # edit bucket and region
  #   terraform init -backend-config=backend.hcl
  backend "s3" {}
}
